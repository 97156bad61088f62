-- Every stream (of category $1 only, unless NULL) with its version, the stored size of its
-- data and metadata, and its newest event's position and time. A full scan: for tools.
SELECT stream, max(version), sum(pg_column_size(data) + pg_column_size(metadata))::bigint,
       (max(ARRAY[tx, seq]))[1], (max(ARRAY[tx, seq]))[2], max(recorded_at)
FROM {schema}.events
WHERE $1::text IS NULL OR split_part(stream, '-', 1) = $1::text
GROUP BY stream
ORDER BY stream
