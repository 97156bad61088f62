-- The compare-and-set: only the lease holder, only from the expected position.
UPDATE eventbook_projection_checkpoints SET position = ?, updated_at = ?, lease_until = ?
WHERE name = ? AND version = ? AND owner = ? AND epoch = ? AND part = ?
  AND position IS ?
