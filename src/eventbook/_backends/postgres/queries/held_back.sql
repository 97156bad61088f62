-- Are committed events waiting behind a transaction that is still open? Only the newest
-- event can tell (events are ordered by transaction id), read backwards from the primary
-- key, so this costs one index probe however large the table is.
SELECT coalesce(
    (SELECT tx FROM {schema}.events ORDER BY tx DESC, seq DESC LIMIT 1)
        >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
    false
)
