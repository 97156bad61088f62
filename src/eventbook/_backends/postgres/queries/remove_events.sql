-- Physically remove a stream's events below a version (truncate, tombstone, purge).
DELETE FROM {schema}.events WHERE stream = $1 AND version < $2
