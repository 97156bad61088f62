-- Where a group transaction starts, read under the write lock: the next global position
-- and the current version of every stream the group appends to (a JSON object of the
-- streams that have events; `?` is a JSON array of the group's stream names).
-- sqlite_sequence holds the highest position ever used (AUTOINCREMENT), so deleted rows
-- never give their position away. One row, so one step: see appends.py on why.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'eventbook_events'), 0) + 1,
       (SELECT json_group_object(stream, version)
        FROM (SELECT stream, max(version) AS version FROM eventbook_events
              WHERE stream IN (SELECT value FROM json_each(?))
              GROUP BY stream))
