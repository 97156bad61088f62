-- Snapshots made useless by removing a stream's events below version $2: those older
-- than the state just before the cut, except the newest of each schema; all of them
-- when no event is left ($3 false).
DELETE FROM {schema}.snapshots AS old
WHERE old.stream = $1
  AND (NOT $3::boolean
       OR (old.version < $2 - 1
           AND old.version < (SELECT max(newest.version) FROM {schema}.snapshots AS newest
                              WHERE newest.stream = old.stream AND newest.schema = old.schema)))
