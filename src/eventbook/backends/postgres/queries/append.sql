-- One statement per append: read the stream's version, check the expectation, insert.
-- $2 is the expectation: -1 any, -2 the stream exists, 0 no stream, n that version.
-- When it fails nothing is inserted and the caller gets the actual version back (and
-- then looks for a stored retry of the batch). A writer racing on the same stream makes
-- the INSERT fail on events_stream_version once the other commits; a stored id fails it
-- on events_id. The transaction id orders the events globally (see read_all.sql).
WITH current AS (
    SELECT coalesce(max(version), 0) AS version
    FROM {schema}.events
    WHERE stream = $1
), allowed AS (
    SELECT version FROM current
    WHERE $2 = -1 OR ($2 = -2 AND version > 0) OR $2 = version
), inserted AS (
    INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata)
    SELECT pg_current_xact_id()::text::bigint, e.id, $1, allowed.version + e.n,
           e.type, e.data, e.metadata
    FROM allowed,
         unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])
             WITH ORDINALITY AS e (id, type, data, metadata, n)
    ORDER BY e.n
    RETURNING tx, seq, version
)
SELECT (SELECT version FROM current), max(version), max(tx), max(seq)
FROM inserted
