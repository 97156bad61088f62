UPDATE eventbook_projection_parked SET status = ?
WHERE name = ? AND version = ? AND event_id = ?
