-- Deleting or tombstoning a stream must not race an append to it: the append statements
-- check the marks in their own snapshot. This lock waits for appends in flight and holds
-- new ones (ROW EXCLUSIVE) until the change commits; plain reads are not held up.
LOCK TABLE {schema}.events IN SHARE ROW EXCLUSIVE MODE
