-- Events, their gap-safe global order, snapshots, and the one-round-trip append.
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

-- One call per append. Outcomes: 0 appended; 1 the expectation failed (last_version is
-- the stream's actual version, nothing written); 2 some ids are stored already (the
-- caller decides whether the batch is an exact retry). Expected: -1 any, -2 the stream
-- exists, 0 no stream, n the exact version. A writer racing on the same stream makes the
-- insert fail on a unique index after waiting for the other commit; the caller calls
-- again and then sees the winner.
CREATE FUNCTION {schema}.append(
    p_stream text,
    p_expected bigint,
    p_ids uuid[],
    p_types text[],
    p_data jsonb[],
    p_metadata jsonb[],
    OUT outcome integer,
    OUT last_version bigint,
    OUT last_tx bigint,
    OUT last_seq bigint
) LANGUAGE plpgsql AS $$
DECLARE
    current_version bigint;
BEGIN
    -- Ids before versions: a retried batch carries an expectation that is stale by now.
    IF EXISTS (SELECT 1 FROM {schema}.events WHERE id = ANY (p_ids)) THEN
        outcome := 2;
        RETURN;
    END IF;
    SELECT coalesce(max(version), 0) INTO current_version
    FROM {schema}.events WHERE stream = p_stream;
    IF NOT (p_expected = -1 OR (p_expected = -2 AND current_version > 0)
            OR p_expected = current_version) THEN
        outcome := 1;
        last_version := current_version;
        RETURN;
    END IF;
    last_tx := pg_current_xact_id()::text::bigint;
    INSERT INTO {schema}.events (tx, id, stream, version, type, data, metadata)
    SELECT last_tx, e.id, p_stream, current_version + e.n, e.type, e.data, e.metadata
    FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS e (id, type, data, metadata, n)
    ORDER BY e.n;
    outcome := 0;
    last_version := current_version + cardinality(p_ids);
    last_seq := currval('{schema}.events_seq');
END
$$;
