-- Migrations may wait for another migrator and may rewrite large tables: no time limit.
SET LOCAL statement_timeout = 0
