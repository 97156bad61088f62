-- How many streams have events.
SELECT count(DISTINCT stream) FROM {schema}.events
