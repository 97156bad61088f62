UPDATE eventbook_projection_parked SET status = $4
WHERE name = $1 AND version = $2 AND event_id = $3
