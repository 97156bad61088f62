UPDATE eventbook_projection_checkpoints SET lease_until = $5
WHERE name = $1 AND version = $2 AND part = $6 AND owner = $3 AND epoch = $4
