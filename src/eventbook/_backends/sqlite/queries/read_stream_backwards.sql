-- Like read_stream_forwards.sql, down from a version: documents, count, last (lowest) version.
SELECT CAST(group_concat(document, ',') AS BLOB), count(*), min(version)
FROM (SELECT version, document FROM eventbook_events
      WHERE stream = ? AND version <= ?
      ORDER BY version DESC
      LIMIT ?)
