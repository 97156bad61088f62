-- Members whose heartbeat has not expired; expired ones are deleted by `forget_members`.
SELECT count(*) FROM eventbook_projection_members
WHERE name = $1 AND version = $2 AND seen_until > $3
