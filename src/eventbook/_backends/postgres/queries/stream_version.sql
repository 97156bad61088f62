SELECT coalesce(max(version), 0) FROM {schema}.events WHERE stream = $1
