-- Data keys of personal data (eventbook.personal): one row per data subject, its key
-- wrapped by the master key, which is never stored. Forgetting a subject sets `wrapped`
-- to NULL: the row stays as a tombstone, so that a forgotten subject is told apart from
-- a key that never was. IF NOT EXISTS: a key store on a database without an event
-- store (the read models of a NATS deployment, say) creates the table itself.
CREATE TABLE IF NOT EXISTS {schema}.personal_keys (
    subject      text        PRIMARY KEY,
    wrapped      bytea,
    master       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    forgotten_at timestamptz
);
