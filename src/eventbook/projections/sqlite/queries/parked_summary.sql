-- A build's parked events, counted, and how many of them halt it.
SELECT count(*), coalesce(sum(CASE WHEN status IN ('halted', 'discard') THEN 1 ELSE 0 END), 0)
FROM eventbook_projection_parked WHERE name = ? AND version = ?
