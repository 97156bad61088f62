-- Physically remove a stream's events below a version (truncate, tombstone, purge).
DELETE FROM eventbook_events WHERE stream = ? AND version < ?
