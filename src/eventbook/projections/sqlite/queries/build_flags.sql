SELECT active, retired FROM eventbook_projection_checkpoints WHERE name = ? AND version = ? AND part = 0
