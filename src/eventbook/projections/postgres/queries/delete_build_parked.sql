DELETE FROM eventbook_projection_parked WHERE name = $1 AND version = $2
