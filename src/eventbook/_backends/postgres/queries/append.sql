-- append_one.sql for a batch: the events are given as arrays and take consecutive
-- versions. One row comes back: the last event's version, tx and seq, or NULLs when the
-- expectation failed. The transaction id is taken once (an InitPlan), not per row.
WITH inserted AS (
    INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata)
    SELECT (SELECT pg_current_xact_id()::text::bigint), e.id, $1, current.version + e.n,
           e.type, e.data, e.metadata
    FROM (
        SELECT coalesce(max(version), 0) AS version FROM {schema}.events WHERE stream = $1
    ) AS current,
    unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[])
        WITH ORDINALITY AS e (id, type, data, metadata, n)
    WHERE ($2::bigint = -1 OR ($2::bigint = -2 AND current.version > 0) OR $2::bigint = current.version)
      AND NOT EXISTS (SELECT FROM {schema}.streams AS s
                      WHERE s.stream = $1 AND (s.deleted OR s.tombstoned))
    ORDER BY e.n
    RETURNING version, tx, seq
)
SELECT max(version), max(tx), max(seq) FROM inserted
