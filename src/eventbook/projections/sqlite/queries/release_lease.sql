UPDATE eventbook_projection_checkpoints SET owner = NULL, lease_until = 0
WHERE name = ? AND version = ? AND owner = ? AND epoch = ? AND part = ?
