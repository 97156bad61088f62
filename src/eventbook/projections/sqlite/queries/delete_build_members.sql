DELETE FROM eventbook_projection_members WHERE name = ? AND version = ?
