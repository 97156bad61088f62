-- How many events each type has (a full scan).
SELECT type, count(*) FROM {schema}.events GROUP BY type ORDER BY type
