SELECT coalesce(max(version), 0) FROM eventbook_migrations
