-- A page of rows: its documents joined in position order, separated by char(30) (a byte
-- no JSON text contains, so the reader splits them with a byte search; see
-- documents.SEPARATOR), its row count and its last position. One row comes back, so the
-- reader thread makes one step and no Python object per event: see readahead.py on why.
-- group_concat takes the rows in the order the subquery yields them: SQLite never
-- flattens a subquery with a LIMIT into an aggregate query, so it runs it on its own, in
-- its ORDER BY order (the conformance suite checks the order of every read).
SELECT CAST(group_concat(document, char(30)) AS BLOB), count(*), max(position)
FROM (SELECT position, document FROM eventbook_events
      WHERE position > ?
      ORDER BY position
      LIMIT ?)
