-- import_events: rows with their own stream, version and recorded_at, inserted in the
-- order given (ORDER BY e.n hands out seq in that order) by one transaction, so they take
-- consecutive positions. The caller checked the streams' versions in the same transaction;
-- the unique constraints catch a writer that got in meanwhile.
INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata, recorded_at)
SELECT (SELECT pg_current_xact_id()::text::bigint), e.id, e.stream, e.version, e.type,
       e.data, e.metadata, e.recorded_at
FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[],
            $7::timestamptz[])
    WITH ORDINALITY AS e (stream, version, id, type, data, metadata, recorded_at, n)
ORDER BY e.n
