-- Positions without AUTOINCREMENT: one page fewer written by every commit.
--
-- AUTOINCREMENT rewrote its counter row in sqlite_sequence on every insert, a fourth page
-- in each commit beside the table and its two indexes (a single-event append went from
-- 4.3 to 3.3 pages of log). A position is still the rowid, and the writer still picks it
-- under the write lock: one more than the larger of the highest stored position and the
-- highest position ever removed (eventbook_removed below, raised by a trigger on every
-- deleted row, however it was deleted). A position is never handed out twice, and the
-- gap-safety argument is unchanged: docs/backends/sqlite.md, "Global order".
--
-- The table is rebuilt (SQLite cannot drop AUTOINCREMENT in place): every row is copied
-- in position order, the unique indexes are built once after the copy, and indexes or
-- triggers of other people on eventbook_events are dropped with the old table.
-- legacy_alter_table keeps the rename from re-checking views on the old table that
-- others may have made: they see the new one under the same name.

-- The highest position ever removed; starts at AUTOINCREMENT's high-water mark, so no
-- position used before this migration is handed out again.
CREATE TABLE eventbook_removed (
    only     INTEGER PRIMARY KEY CHECK (only = 1),
    position INTEGER NOT NULL
);

INSERT INTO eventbook_removed (only, position)
SELECT 1, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'eventbook_events'), 0);

CREATE TABLE eventbook_events_rebuilt (
    position INTEGER PRIMARY KEY,
    id       BLOB    NOT NULL,          -- the event id's 16 bytes (unique: index below)
    stream   TEXT    NOT NULL,
    version  INTEGER NOT NULL,          -- unique with stream: index below
    type     TEXT    NOT NULL,
    document TEXT    NOT NULL
);

INSERT INTO eventbook_events_rebuilt (position, id, stream, version, type, document)
SELECT position, id, stream, version, type, document FROM eventbook_events ORDER BY position;

DROP TABLE eventbook_events;

PRAGMA legacy_alter_table = ON;

ALTER TABLE eventbook_events_rebuilt RENAME TO eventbook_events;

PRAGMA legacy_alter_table = OFF;

-- Event ids are unique across the store: retries and reused ids are told apart by them.
CREATE UNIQUE INDEX eventbook_events_id ON eventbook_events (id);

-- A stream's events in version order; a version is taken once (optimistic concurrency).
CREATE UNIQUE INDEX eventbook_events_stream_version ON eventbook_events (stream, version);

CREATE TRIGGER eventbook_events_removed AFTER DELETE ON eventbook_events
WHEN OLD.position > (SELECT position FROM eventbook_removed)
BEGIN
    UPDATE eventbook_removed SET position = OLD.position;
END;
