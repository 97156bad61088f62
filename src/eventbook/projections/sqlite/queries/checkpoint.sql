SELECT name, version, mode, position, epoch, owner, lease_until, active, retired,
       last_error, last_error_at, updated_at, part
FROM eventbook_projection_checkpoints WHERE name = ? AND version = ? AND part = ?
