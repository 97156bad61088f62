SELECT tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at
FROM {schema}.events
WHERE id = $1
