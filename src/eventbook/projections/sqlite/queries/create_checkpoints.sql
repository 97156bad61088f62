CREATE TABLE IF NOT EXISTS eventbook_projection_checkpoints (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    mode TEXT NOT NULL DEFAULT 'async',
    position TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 0,
    retired INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_error_at REAL,
    updated_at REAL,
    part INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version, part)
)
