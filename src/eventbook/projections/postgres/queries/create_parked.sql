CREATE TABLE IF NOT EXISTS eventbook_projection_parked (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    position TEXT NOT NULL,
    stream TEXT NOT NULL,
    type TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    parked_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    part INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version, event_id)
)
