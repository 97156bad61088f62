-- What holds readers back: the visibility horizon (the oldest transaction id still open
-- anywhere in the cluster), the committed events waiting behind it, and who holds it.
WITH snap AS (
    SELECT pg_snapshot_xmin(s)::text::bigint AS horizon,
           pg_snapshot_xmax(s)::text::bigint AS next_xid
    FROM pg_current_snapshot() AS s
), held AS (
    SELECT count(*) AS events, min(h.recorded_at) AS oldest
    FROM (
        -- The horizon as a scalar subquery, not a join with `snap`: only then does the
        -- planner use it as an index condition instead of scanning every event.
        SELECT e.recorded_at
        FROM {schema}.events AS e
        WHERE e.tx >= (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
        ORDER BY e.tx, e.seq
        LIMIT $1
    ) AS h
), holders AS (
    SELECT a.pid, a.application_name AS application, a.state, a.xact_start AS since,
           age(a.backend_xid) AS xid_age
    FROM pg_stat_activity AS a
    WHERE a.backend_xid IS NOT NULL
    UNION ALL
    SELECT NULL, 'prepared transaction ' || p.gid, 'prepared', p.prepared, age(p.transaction)
    FROM pg_prepared_xacts AS p
), oldest AS (
    SELECT * FROM holders ORDER BY xid_age DESC LIMIT 1
)
SELECT snap.horizon, snap.next_xid, held.events,
       coalesce(extract(epoch FROM clock_timestamp() - held.oldest), 0)::float8 AS held_seconds,
       oldest.pid, oldest.application, oldest.state,
       extract(epoch FROM clock_timestamp() - oldest.since)::float8 AS holder_seconds
FROM snap CROSS JOIN held LEFT JOIN oldest ON true
