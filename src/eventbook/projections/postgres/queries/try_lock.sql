-- A session-level lock: the lease lasts as long as the runner's connection.
SELECT pg_try_advisory_lock($1)
