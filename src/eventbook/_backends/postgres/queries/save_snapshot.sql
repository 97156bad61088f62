INSERT INTO {schema}.snapshots (stream, schema, version, state)
VALUES ($1, $2, $3, $4::jsonb)
ON CONFLICT (stream, schema, version)
DO UPDATE SET state = excluded.state, taken_at = excluded.taken_at
