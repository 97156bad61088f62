-- Older builds are done: fence their runners so they stop writing.
UPDATE eventbook_projection_checkpoints
SET retired = true, epoch = epoch + 1, owner = NULL, lease_until = 0
WHERE name = $1 AND version < $2 AND NOT retired
