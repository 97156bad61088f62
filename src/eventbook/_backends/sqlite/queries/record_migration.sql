INSERT INTO eventbook_migrations (version, name, applied_at) VALUES (?, ?, ?)
