SELECT name, version, event_id, position, stream, type, error, attempts, parked_at, status,
       part
FROM eventbook_projection_parked
WHERE name = ? AND version = ? AND part = ? AND status IN ('halted', 'discard') LIMIT 1
