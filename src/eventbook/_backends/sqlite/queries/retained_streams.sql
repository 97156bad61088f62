-- Live streams with a retention setting, with their version.
SELECT s.stream, (SELECT max(version) FROM eventbook_events WHERE stream = s.stream),
       s.first_version, s.last_version, s.max_count, s.max_age_seconds
FROM eventbook_streams AS s
WHERE (s.max_count IS NOT NULL OR s.max_age_seconds IS NOT NULL)
  AND s.deleted = 0 AND s.tombstoned = 0
  AND EXISTS (SELECT 1 FROM eventbook_events WHERE stream = s.stream)
ORDER BY s.stream
