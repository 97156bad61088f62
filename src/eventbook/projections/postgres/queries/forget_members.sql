DELETE FROM eventbook_projection_members WHERE name = $1 AND version = $2 AND seen_until <= $3
