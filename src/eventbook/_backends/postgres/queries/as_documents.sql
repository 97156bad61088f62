-- Wraps a read query (one selecting tx, seq, id, stream, version, type, data,
-- metadata and recorded_at) so that each row comes back as one JSON text with exactly the
-- fields of `RecordedEvent`: the client decodes a page of them in one call instead of
-- one JSONB value at a time. The time is written in UTC with microseconds, as the driver
-- reads it; numbers in data and metadata are written as JSONB keeps them.
SELECT json_build_object(
         'id', id, 'stream', stream, 'version', version,
         'position', json_build_object('major', tx, 'minor', seq),
         'type', type, 'data', data, 'metadata', metadata,
         'recorded_at', to_char(recorded_at AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
FROM ({rows}
) AS page
ORDER BY {order}
