-- Replaying an aggregate: the page as one JSON array of what typed events are built from
-- (version, type, data and the schema tag of the metadata; see `ReplayRecord`), so that
-- the client decodes it in one call instead of one JSONB value at a time. Versions below
-- the stream's first visible one (truncated or deleted) are never read.
SELECT json_agg(json_build_object(
         'version', version,
         'type', type,
         'data', data,
         'metadata', CASE WHEN metadata ? 'schema_version'
                          THEN jsonb_build_object('schema_version', metadata -> 'schema_version')
                          ELSE '{}'::jsonb END)
       ORDER BY version)::text
FROM (SELECT version, type, data, metadata
      FROM {schema}.events
      WHERE stream = $1
        AND version >= greatest($2, coalesce((SELECT first_version FROM {schema}.streams
                                              WHERE stream = $1), 1))
      ORDER BY version
      LIMIT $3) AS page
