-- Migration: databases set up before partitions key checkpoints by (name, version) only.
-- Idempotent, run by setup under its lock.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND table_name = 'eventbook_projection_checkpoints' AND column_name = 'part'
    ) THEN
        ALTER TABLE eventbook_projection_checkpoints
            ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE eventbook_projection_checkpoints
            DROP CONSTRAINT eventbook_projection_checkpoints_pkey,
            ADD PRIMARY KEY (name, version, part);
    END IF;
    ALTER TABLE eventbook_projection_parked ADD COLUMN IF NOT EXISTS part INTEGER NOT NULL DEFAULT 0;
END
$$
