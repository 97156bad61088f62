UPDATE eventbook_projection_checkpoints SET owner = $3, epoch = epoch + 1, lease_until = $4
WHERE name = $1 AND version = $2 AND part = $5 AND NOT retired
RETURNING epoch
