UPDATE eventbook_projection_checkpoints SET active = 1 WHERE name = ? AND version = ?
