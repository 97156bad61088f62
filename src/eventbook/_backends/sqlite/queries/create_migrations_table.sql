-- The schema ledger: one row per migration applied to this database.
CREATE TABLE IF NOT EXISTS eventbook_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
