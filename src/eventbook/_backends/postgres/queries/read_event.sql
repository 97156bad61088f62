SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {schema}.events
WHERE id = $1
