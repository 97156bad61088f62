-- Every partition's row of one build (an unpartitioned build has only partition 0).
SELECT name, version, mode, position, epoch, owner, lease_until, active, retired,
       last_error, last_error_at, updated_at, part
FROM eventbook_projection_checkpoints WHERE name = ? AND version = ? ORDER BY part
