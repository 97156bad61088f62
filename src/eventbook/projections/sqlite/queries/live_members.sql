-- Members whose heartbeat has not expired; expired ones are deleted by `forget_members`.
SELECT count(*) FROM eventbook_projection_members
WHERE name = ? AND version = ? AND seen_until > ?
