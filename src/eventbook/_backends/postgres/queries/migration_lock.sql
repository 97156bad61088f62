-- Held until the migrating transaction ends; a second process starting at the same
-- moment waits here, then finds the migrations applied.
SELECT pg_advisory_xact_lock($1, $2)
