SELECT tx, seq
FROM {schema}.events
WHERE tx < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
ORDER BY tx DESC, seq DESC
LIMIT 1
