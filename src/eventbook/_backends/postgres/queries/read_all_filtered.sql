-- read_all.sql with a type and/or category filter; a NULL array means "any".
SELECT tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at
FROM {schema}.events
WHERE (tx, seq) > ($1, $2)
  AND tx < (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
  AND ($4::text[] IS NULL OR type = ANY ($4::text[]))
  AND ($5::text[] IS NULL OR split_part(stream, '-', 1) = ANY ($5::text[]))
ORDER BY tx, seq
LIMIT $3
