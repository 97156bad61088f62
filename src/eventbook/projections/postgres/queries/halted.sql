SELECT name, version, event_id, position, stream, type, error, attempts, parked_at, status,
       part
FROM eventbook_projection_parked
WHERE name = $1 AND version = $2 AND part = $3 AND status IN ('halted', 'discard') LIMIT 1
