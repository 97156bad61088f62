SELECT version, state, taken_at FROM eventbook_snapshots
WHERE stream = ? AND schema = ? AND version <= ?
ORDER BY version DESC
LIMIT 1
