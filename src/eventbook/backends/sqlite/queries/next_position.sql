-- The next global position, read under the write lock. sqlite_sequence holds the highest
-- position ever used (AUTOINCREMENT), so deleted rows never give their position away.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'eventbook_events'), 0) + 1
