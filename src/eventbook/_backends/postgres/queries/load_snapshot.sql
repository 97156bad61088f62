SELECT stream, version, schema, state, taken_at
FROM {schema}.snapshots
WHERE stream = $1 AND schema = $2 AND version <= $3
ORDER BY version DESC
LIMIT 1
