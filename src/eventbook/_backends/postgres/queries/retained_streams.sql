-- Live streams with a retention setting, with their version.
SELECT s.stream, v.version, s.first_version, s.last_version, s.max_count, s.max_age_seconds
FROM {schema}.streams AS s
CROSS JOIN LATERAL (SELECT max(version) AS version FROM {schema}.events
                    WHERE stream = s.stream) AS v
WHERE (s.max_count IS NOT NULL OR s.max_age_seconds IS NOT NULL)
  AND NOT s.deleted AND NOT s.tombstoned AND v.version IS NOT NULL
ORDER BY s.stream
