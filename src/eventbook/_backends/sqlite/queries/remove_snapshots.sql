-- Snapshots made useless by removing a stream's events below version ?2: those older
-- than the state just before the cut, except the newest of each schema; all of them
-- when no event is left (?3 = 0).
DELETE FROM eventbook_snapshots
WHERE stream = ?1
  AND (?3 = 0 OR (version < ?2 - 1
                  AND version < (SELECT max(version) FROM eventbook_snapshots AS newest
                                 WHERE newest.stream = eventbook_snapshots.stream
                                   AND newest.schema = eventbook_snapshots.schema)))
