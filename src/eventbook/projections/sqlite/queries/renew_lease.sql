UPDATE eventbook_projection_checkpoints SET lease_until = ?
WHERE name = ? AND version = ? AND owner = ? AND epoch = ? AND part = ?
