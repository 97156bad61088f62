-- Where a group transaction starts, read under the write lock: the next global position,
-- the current version of every stream the group appends to (a JSON object of the
-- streams that have events; `?1` is a JSON array of the group's stream names), and the
-- lifecycle marks of those that have any (a JSON object of arrays).
-- The next position is one more than the highest stored one and the highest ever removed
-- (eventbook_removed, kept by a trigger), so deleted rows never give their position
-- away; both are one probe of a b-tree. One row, so one step: see appends.py on why.
-- Each version is its own `max()` subquery: SQLite answers that with one probe of the
-- (stream, version) index, whereas `max()` with GROUP BY reads every index entry of the
-- stream, which made an append cost more the longer its stream grew.
SELECT max(coalesce((SELECT max(position) FROM eventbook_events), 0),
           (SELECT position FROM eventbook_removed)) + 1,
       (SELECT json_group_object(stream, version)
        FROM (SELECT value AS stream,
                     (SELECT max(version) FROM eventbook_events WHERE stream = value) AS version
              FROM json_each(?1))
        WHERE version IS NOT NULL),
       (SELECT json_group_object(stream, json_array(first_version, last_version, deleted,
                                                    tombstoned))
        FROM eventbook_streams WHERE stream IN (SELECT value FROM json_each(?1)))
