-- What the store keeps about a stream besides its events: how far it was truncated or
-- deleted, whether it is a tombstone, and its retention settings (docs/event-store.md,
-- "Stream lifecycle"). A row only for streams that have any of them.
CREATE TABLE {schema}.streams (
    stream          text    NOT NULL,
    first_version   bigint  NOT NULL DEFAULT 1,   -- readers see versions from here on
    last_version    bigint  NOT NULL DEFAULT 0,   -- the version when a mark was set
    deleted         boolean NOT NULL DEFAULT false,
    tombstoned      boolean NOT NULL DEFAULT false,
    max_count       bigint,
    max_age_seconds double precision,
    CONSTRAINT streams_key PRIMARY KEY (stream)
);
