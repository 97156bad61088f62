-- Back to the start, every partition; the new epoch fences the runner that held the lease.
UPDATE eventbook_projection_checkpoints
SET position = NULL, epoch = epoch + 1, owner = NULL, lease_until = 0,
    last_error = NULL, last_error_at = NULL, updated_at = $3
WHERE name = $1 AND version = $2
