-- Like read_all.sql, for one stream from a version on: documents, count, last version.
SELECT CAST(group_concat(document, ',') AS BLOB), count(*), max(version)
FROM (SELECT version, document FROM eventbook_events
      WHERE stream = ? AND version >= ?
      ORDER BY version
      LIMIT ?)
