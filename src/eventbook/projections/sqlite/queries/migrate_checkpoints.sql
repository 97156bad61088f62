-- Migration: the key gains the partition number. SQLite cannot change a primary key in
-- place, so the rows move to a table of the new shape (run in setup's transaction).
ALTER TABLE eventbook_projection_checkpoints RENAME TO eventbook_projection_checkpoints_old
