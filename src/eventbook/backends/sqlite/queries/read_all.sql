SELECT position, CAST(document AS BLOB) FROM eventbook_events
WHERE position > ?
ORDER BY position
LIMIT ?
