UPDATE eventbook_projection_checkpoints SET owner = ?, epoch = ?, lease_until = ?
WHERE name = ? AND version = ? AND part = ?
