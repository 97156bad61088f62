-- Filters arrive as JSON arrays of names, or NULL for "any". A stream's category is its
-- name up to the first '-'.
SELECT position, CAST(document AS BLOB) FROM eventbook_events
WHERE position > :after
  AND (:types IS NULL OR type IN (SELECT value FROM json_each(:types)))
  AND (:categories IS NULL
       OR substr(stream, 1, instr(stream || '-', '-') - 1)
          IN (SELECT value FROM json_each(:categories)))
ORDER BY position
LIMIT :limit
