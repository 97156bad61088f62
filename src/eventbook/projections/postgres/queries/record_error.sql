UPDATE eventbook_projection_checkpoints SET last_error = $5, last_error_at = $6
WHERE name = $1 AND version = $2 AND part = $7 AND owner = $3 AND epoch = $4
