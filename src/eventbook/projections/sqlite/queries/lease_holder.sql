SELECT owner, lease_until, epoch, retired
FROM eventbook_projection_checkpoints WHERE name = ? AND version = ? AND part = ?
