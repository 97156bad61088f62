UPDATE eventbook_projection_checkpoints SET last_error = ?, last_error_at = ?
WHERE name = ? AND version = ? AND part = ?
