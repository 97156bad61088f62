SELECT version FROM eventbook_projection_checkpoints WHERE name = ? AND active
