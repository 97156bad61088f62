SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {schema}.events
WHERE stream = $1 AND version >= $2
ORDER BY version
LIMIT $3
