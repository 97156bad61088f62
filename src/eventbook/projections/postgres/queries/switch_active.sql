UPDATE eventbook_projection_checkpoints SET active = (version = $2) WHERE name = $1
