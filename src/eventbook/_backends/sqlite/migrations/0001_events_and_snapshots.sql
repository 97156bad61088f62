-- The event log. `position` is the global order: rows are inserted by one writer at a
-- time (SQLite's write lock), so position order is commit order. AUTOINCREMENT keeps a
-- high-water mark in sqlite_sequence, so a position is never handed out twice, even if
-- the newest rows are deleted one day.
--
-- The indexed columns serve constraints and lookups; `document` holds the whole event
-- (id, stream, version, position, type, data, metadata, recorded_at) as one JSON object,
-- so that a page of events is decoded in a single call.
CREATE TABLE eventbook_events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    id       BLOB    NOT NULL UNIQUE,   -- the event id's 16 bytes
    stream   TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    document TEXT    NOT NULL,
    UNIQUE (stream, version)
);

-- Aggregate snapshots: one row per (stream, schema tag, version); saving again replaces.
CREATE TABLE eventbook_snapshots (
    stream   TEXT    NOT NULL,
    schema   TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    state    TEXT    NOT NULL,
    taken_at TEXT    NOT NULL,          -- RFC 3339, UTC
    PRIMARY KEY (stream, schema, version)
) WITHOUT ROWID;
