-- One append of one event, in one statement: read the stream's version, check the
-- expectation ($2, a bigint: -1 any, -2 the stream exists, 0 no stream, n that version)
-- and that the stream is not deleted (see lifecycle.py), insert.
-- No row comes back when the expectation fails (then refusal.sql says why). A writer
-- racing on the same stream makes the INSERT fail on events_stream_version once the other
-- commits; a stored id fails it on events_id. The transaction id orders events globally
-- (see read_all.sql).
INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata)
SELECT pg_current_xact_id()::text::bigint, $3, $1, current.version + 1, $4, $5, $6
FROM (
    SELECT coalesce(max(version), 0) AS version FROM {schema}.events WHERE stream = $1
) AS current
WHERE ($2::bigint = -1 OR ($2::bigint = -2 AND current.version > 0) OR $2::bigint = current.version)
  AND NOT EXISTS (SELECT FROM {schema}.streams AS s
                  WHERE s.stream = $1 AND (s.deleted OR s.tombstoned))
RETURNING version, tx, seq
