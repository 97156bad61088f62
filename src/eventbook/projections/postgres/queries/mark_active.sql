UPDATE eventbook_projection_checkpoints SET active = true WHERE name = $1 AND version = $2
