-- read_stream_forwards.sql for a replay: only what typed events are built from. The data
-- comes as JSON text (the same text the JSONB codec gets, without a Python call per value
-- to parse it into a dict), the schema version as JSON text, NULL when the metadata has none.
SELECT version, type, data::text, (metadata -> 'schema_version')::text
FROM {schema}.events
WHERE stream = $1
  AND version >= greatest($2, coalesce((SELECT first_version FROM {schema}.streams
                                        WHERE stream = $1), 1))
ORDER BY version
LIMIT $3
