-- Migration: databases set up before partitions had no partition column.
ALTER TABLE eventbook_projection_parked ADD COLUMN part INTEGER NOT NULL DEFAULT 0
