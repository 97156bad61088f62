-- Like read_all.sql, for one stream from a version on: documents, count, last version.
-- Versions below the stream's first visible one (truncated or deleted) are never read.
SELECT CAST(group_concat(document, char(30)) AS BLOB), count(*), max(version)
FROM (SELECT version, document FROM eventbook_events
      WHERE stream = ?1
        AND version >= max(?2, coalesce((SELECT first_version FROM eventbook_streams
                                          WHERE stream = ?1), 1))
      ORDER BY version
      LIMIT ?3)
