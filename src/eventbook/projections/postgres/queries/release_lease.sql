UPDATE eventbook_projection_checkpoints SET owner = NULL, lease_until = 0
WHERE name = $1 AND version = $2 AND part = $5 AND owner = $3 AND epoch = $4
