INSERT INTO eventbook_projection_members (name, version, owner, seen_until)
VALUES (?, ?, ?, ?)
ON CONFLICT (name, version, owner) DO UPDATE SET seen_until = excluded.seen_until
