INSERT OR REPLACE INTO eventbook_projection_parked
    (name, version, event_id, position, stream, type, error, attempts, parked_at, status, part)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
