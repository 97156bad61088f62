INSERT INTO eventbook_projection_parked
    (name, version, event_id, position, stream, type, error, attempts, parked_at, status, part)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (name, version, event_id) DO UPDATE SET error = excluded.error,
    attempts = excluded.attempts, parked_at = excluded.parked_at, status = excluded.status
