UPDATE eventbook_projection_checkpoints SET last_error = $3, last_error_at = $4
WHERE name = $1 AND version = $2 AND part = $5
