INSERT OR REPLACE INTO eventbook_snapshots (stream, schema, version, state, taken_at)
VALUES (?, ?, ?, CAST(? AS TEXT), ?)
