-- Where a group transaction starts, read under the write lock: the next global position
-- and the version of the first append's stream. sqlite_sequence holds the highest
-- position ever used (AUTOINCREMENT), so deleted rows never give their position away.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'eventbook_events'), 0) + 1,
       (SELECT coalesce(max(version), 0) FROM eventbook_events WHERE stream = ?)
