-- append.sql for events that carry their own recorded_at ($7, NULL for "now"): what
-- import_events hands `_append` on the port's default path. Ordinary appends use append.sql.
WITH inserted AS (
    INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata, recorded_at)
    SELECT (SELECT pg_current_xact_id()::text::bigint), e.id, $1, current.version + e.n,
           e.type, e.data, e.metadata, coalesce(e.recorded_at, now())
    FROM (
        SELECT coalesce(max(version), 0) AS version FROM {schema}.events WHERE stream = $1
    ) AS current,
    unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[])
        WITH ORDINALITY AS e (id, type, data, metadata, recorded_at, n)
    WHERE ($2::bigint = -1 OR ($2::bigint = -2 AND current.version > 0) OR $2::bigint = current.version)
      AND NOT EXISTS (SELECT FROM {schema}.streams AS s
                      WHERE s.stream = $1 AND (s.deleted OR s.tombstoned))
    ORDER BY e.n
    RETURNING version, tx, seq
)
SELECT max(version), max(tx), max(seq) FROM inserted
