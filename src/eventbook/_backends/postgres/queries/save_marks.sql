INSERT INTO {schema}.streams
    (stream, first_version, last_version, deleted, tombstoned, max_count, max_age_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (stream) DO UPDATE SET
    first_version = excluded.first_version, last_version = excluded.last_version,
    deleted = excluded.deleted, tombstoned = excluded.tombstoned,
    max_count = excluded.max_count, max_age_seconds = excluded.max_age_seconds
