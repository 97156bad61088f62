-- The stored events behind a batch's ids, to tell an exact retry from a reused id.
SELECT id, stream, version, tx, seq, type, data
FROM {schema}.events
WHERE id = ANY ($1::uuid[])
ORDER BY stream, version
