UPDATE eventbook_projection_checkpoints SET active = (version = ?) WHERE name = ?
