INSERT INTO eventbook_projection_checkpoints (name, version, mode, updated_at, part)
VALUES (?, ?, ?, ?, ?)
