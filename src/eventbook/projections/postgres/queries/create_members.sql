-- Daemons running a partitioned build say they are alive here; each takes a fair share
-- of the partitions (see eventbook.projections._partitions). Leases alone keep safety.
CREATE TABLE IF NOT EXISTS eventbook_projection_members (
    name TEXT NOT NULL,
    version BIGINT NOT NULL,
    owner TEXT NOT NULL,
    seen_until DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (name, version, owner)
)
