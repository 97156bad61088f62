-- Are committed events waiting behind a transaction that is still open?
SELECT EXISTS (
    SELECT 1 FROM {schema}.events
    WHERE tx >= (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)
)
