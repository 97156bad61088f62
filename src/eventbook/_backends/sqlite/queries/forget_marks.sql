DELETE FROM eventbook_streams WHERE stream = ?
