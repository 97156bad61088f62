-- Versions below the stream's first visible one (truncated or deleted) are never read.
SELECT tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at
FROM {schema}.events
WHERE stream = $1
  AND version >= greatest($2, coalesce((SELECT first_version FROM {schema}.streams
                                        WHERE stream = $1), 1))
ORDER BY version
LIMIT $3
