-- The stored events behind a batch's ids, to tell an exact retry from a reused id.
-- One unique-index lookup per id, whatever plan the driver's prepared statement caches.
SELECT e.id, e.stream, e.version, e.tx, e.seq, e.type, e.data
FROM unnest($1::uuid[]) AS wanted (id)
CROSS JOIN LATERAL (
    SELECT * FROM {schema}.events WHERE id = wanted.id
) AS e
ORDER BY e.stream, e.version
