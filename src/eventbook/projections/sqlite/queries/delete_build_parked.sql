DELETE FROM eventbook_projection_parked WHERE name = ? AND version = ?
