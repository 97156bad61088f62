-- Data keys of personal data (eventbook.personal): one row per data subject, its key
-- wrapped by the master key, which is never stored. Forgetting a subject sets `wrapped`
-- to NULL: the row stays as a tombstone, so that a forgotten subject is told apart from
-- a key that never was. IF NOT EXISTS: a key store on a database without an event
-- store (the read models of a NATS deployment, say) creates the table itself. secure_delete is on for this table's connection, so the old key
-- bytes are overwritten, not left in free pages.
CREATE TABLE IF NOT EXISTS eventbook_personal_keys (
    subject      TEXT PRIMARY KEY,
    wrapped      BLOB,
    master       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    forgotten_at TEXT
) WITHOUT ROWID;
