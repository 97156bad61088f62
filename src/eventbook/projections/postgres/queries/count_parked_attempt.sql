UPDATE eventbook_projection_parked SET error = $4, attempts = attempts + 1
WHERE name = $1 AND version = $2 AND event_id = $3
