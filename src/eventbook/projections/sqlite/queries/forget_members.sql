DELETE FROM eventbook_projection_members WHERE name = ? AND version = ? AND seen_until <= ?
