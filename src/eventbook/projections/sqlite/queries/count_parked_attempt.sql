UPDATE eventbook_projection_parked SET error = ?, attempts = attempts + 1
WHERE name = ? AND version = ? AND event_id = ?
