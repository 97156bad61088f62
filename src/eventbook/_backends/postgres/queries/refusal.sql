-- Why an append stored nothing: first the stream's version now, then the stored events
-- behind the batch's ids (an exact retry of them, or ids reused). One unique-index lookup
-- per id, whatever plan the prepared statement caches.
SELECT 0 AS part, NULL::uuid, NULL::text, coalesce(max(version), 0), NULL::bigint,
       NULL::bigint, NULL::text, NULL::jsonb
FROM {schema}.events
WHERE stream = $2
UNION ALL
SELECT 1, e.id, e.stream, e.version, e.tx, e.seq, e.type, e.data
FROM unnest($1::uuid[]) AS wanted (id)
CROSS JOIN LATERAL (SELECT * FROM {schema}.events WHERE id = wanted.id) AS e
ORDER BY 1, 3, 4
