SELECT CAST(document AS BLOB) FROM eventbook_events WHERE id = ?
