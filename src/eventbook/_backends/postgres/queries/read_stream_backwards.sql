SELECT tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at
FROM {schema}.events
WHERE stream = $1 AND version <= $2
  AND version >= coalesce((SELECT first_version FROM {schema}.streams WHERE stream = $1), 1)
ORDER BY version DESC
LIMIT $3
