-- Events with their gap-safe global order, and snapshots.
-- `{schema}` is replaced by the store's quoted schema name before this runs.

CREATE TABLE {schema}.events (
    -- The global order is (tx, seq): tx is the appending transaction's id, so readers can
    -- hide every transaction that might still commit below what they have seen.
    tx          bigint      NOT NULL,
    seq         bigint      NOT NULL GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME {schema}.events_seq),
    id          uuid        NOT NULL,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    type        text        NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_order PRIMARY KEY (tx, seq),
    CONSTRAINT events_stream_version UNIQUE (stream, version),
    CONSTRAINT events_id UNIQUE (id)
);

CREATE TABLE {schema}.snapshots (
    stream   text        NOT NULL,
    schema   text        NOT NULL,
    version  bigint      NOT NULL,
    state    jsonb       NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT snapshots_key PRIMARY KEY (stream, schema, version)
);
