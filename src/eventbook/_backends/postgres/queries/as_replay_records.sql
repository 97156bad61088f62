-- Wraps read_stream_forwards.sql so that each row comes back as one JSON text
-- of what a typed event is built from (`ReplayRecord`: version, type, data, and the
-- schema version from the metadata, left out when the metadata has none).
SELECT json_build_object(
         'version', version, 'type', type, 'data', data,
         'metadata', CASE WHEN metadata ? 'schema_version'
                          THEN jsonb_build_object('schema_version', metadata -> 'schema_version')
                          ELSE '{}'::jsonb END)::text
FROM ({rows}
) AS page
ORDER BY version
