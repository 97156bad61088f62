SELECT 1 FROM eventbook_projection_checkpoints WHERE name = $1 AND version = $2 AND part = 0
