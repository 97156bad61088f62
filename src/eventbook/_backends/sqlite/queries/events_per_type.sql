-- How many events each type has (a full scan).
SELECT type, count(*) FROM eventbook_events GROUP BY type ORDER BY type
