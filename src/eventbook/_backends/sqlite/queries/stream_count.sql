-- How many streams have events (a scan of the (stream, version) index).
SELECT count(DISTINCT stream) FROM eventbook_events
