-- The current version of each stream in $1 (0 for a stream without events).
SELECT s.stream,
       (SELECT coalesce(max(version), 0) FROM {schema}.events WHERE stream = s.stream)
FROM unnest($1::text[]) AS s (stream)
