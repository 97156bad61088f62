SELECT active, retired FROM eventbook_projection_checkpoints WHERE name = $1 AND version = $2 AND part = 0
