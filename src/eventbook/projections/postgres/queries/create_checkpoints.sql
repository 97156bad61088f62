CREATE TABLE IF NOT EXISTS eventbook_projection_checkpoints (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'async',
    position TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    owner TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT false,
    retired BOOLEAN NOT NULL DEFAULT false,
    last_error TEXT,
    last_error_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION,
    part INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version, part)
)
