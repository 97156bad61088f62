SELECT version, CAST(document AS BLOB) FROM eventbook_events
WHERE stream = ? AND version >= ?
ORDER BY version
LIMIT ?
