-- {ids} is replaced by as many `?` as there are ids in the chunk.
SELECT CAST(document AS BLOB) FROM eventbook_events WHERE id IN ({ids}) ORDER BY position
