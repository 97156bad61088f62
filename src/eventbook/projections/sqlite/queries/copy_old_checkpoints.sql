INSERT INTO eventbook_projection_checkpoints
    (name, version, mode, position, epoch, owner, lease_until, active, retired,
     last_error, last_error_at, updated_at, part)
SELECT name, version, mode, position, epoch, owner, lease_until, active, retired,
       last_error, last_error_at, updated_at, 0
FROM eventbook_projection_checkpoints_old
