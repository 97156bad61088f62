-- Only transactions below the snapshot's xmin are finished: nothing can still commit
-- before the rows returned here, so a reader never skips an event it would see later.
SELECT tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at
FROM {schema}.events
WHERE (tx, seq) > ($1, $2)
  AND tx < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
ORDER BY tx, seq
LIMIT $3
