SELECT first_version, last_version, deleted, tombstoned, max_count, max_age_seconds
FROM eventbook_streams WHERE stream = ?
