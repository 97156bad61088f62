-- Like read_all.sql. Filters arrive as JSON arrays of names, or NULL for "any". A
-- stream's category is its name up to the first '-'.
SELECT CAST(group_concat(document, char(30)) AS BLOB), count(*), max(position)
FROM (SELECT position, document FROM eventbook_events
      WHERE position > :after
        AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
        AND (:categories IS NULL
             OR substr(stream, 1, instr(stream || '-', '-') - 1)
                IN (SELECT value FROM json_each(:categories)))
      ORDER BY position
      LIMIT :limit)
