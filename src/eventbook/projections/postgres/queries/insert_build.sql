INSERT INTO eventbook_projection_checkpoints (name, version, mode, updated_at, part)
VALUES ($1, $2, $3, $4, $5)
