-- A page of rows: its documents joined with commas in position order, its row
-- count and its last position. One row comes back, so the reader thread makes one step
-- and no Python object per event: see readahead.py on why. group_concat takes the rows
-- in the order the subquery yields them: SQLite never flattens a subquery with a LIMIT
-- into an aggregate query, so it runs it on its own, in its ORDER BY order (the
-- conformance suite checks the order of every read).
SELECT CAST(group_concat(document, ',') AS BLOB), count(*), max(position)
FROM (SELECT position, document FROM eventbook_events
      WHERE position > ?
      ORDER BY position
      LIMIT ?)
