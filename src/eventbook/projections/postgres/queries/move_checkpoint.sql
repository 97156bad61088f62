-- The compare-and-set: only the lease holder, only from the expected position.
UPDATE eventbook_projection_checkpoints SET position = $5, updated_at = $6, lease_until = $7
WHERE name = $1 AND version = $2 AND part = $9 AND owner = $3 AND epoch = $4
  AND position IS NOT DISTINCT FROM $8
