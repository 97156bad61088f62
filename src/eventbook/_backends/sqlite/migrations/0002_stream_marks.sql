-- What the store keeps about a stream besides its events: how far it was truncated or
-- deleted, whether it is a tombstone, and its retention settings (docs/event-store.md,
-- "Stream lifecycle"). A row only for streams that have any of them.
CREATE TABLE eventbook_streams (
    stream          TEXT    NOT NULL PRIMARY KEY,
    first_version   INTEGER NOT NULL DEFAULT 1,  -- readers see versions from here on
    last_version    INTEGER NOT NULL DEFAULT 0,  -- the version when a mark was set
    deleted         INTEGER NOT NULL DEFAULT 0,
    tombstoned      INTEGER NOT NULL DEFAULT 0,
    max_count       INTEGER,
    max_age_seconds REAL
) WITHOUT ROWID;
