SELECT version FROM eventbook_projection_checkpoints WHERE name = $1 AND active
