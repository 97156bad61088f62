-- Older builds are done: fence their runners so they stop writing.
UPDATE eventbook_projection_checkpoints
SET retired = 1, epoch = epoch + 1, owner = NULL, lease_until = 0
WHERE name = ? AND version < ? AND NOT retired
