-- Like read_stream_forwards.sql, down from a version: documents, count, last (lowest) version.
SELECT CAST(group_concat(document, char(30)) AS BLOB), count(*), min(version)
FROM (SELECT version, document FROM eventbook_events
      WHERE stream = ?1 AND version <= ?2
        AND version >= coalesce((SELECT first_version FROM eventbook_streams
                                 WHERE stream = ?1), 1)
      ORDER BY version DESC
      LIMIT ?3)
