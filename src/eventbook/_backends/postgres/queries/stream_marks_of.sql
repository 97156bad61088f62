-- The marks of several streams ($1, an array of names) that have any.
SELECT stream, first_version, last_version, deleted, tombstoned, max_count, max_age_seconds
FROM {schema}.streams WHERE stream = ANY($1::text[])
