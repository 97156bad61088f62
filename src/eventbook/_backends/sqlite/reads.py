"""Reads, run in the reader threads, each on that thread's own connection.

Every function is one statement, so it sees one consistent snapshot (WAL), and none
of them ever waits for the writer. Pages come back as the stored documents joined into one
bytes object (separated by `documents.SEPARATOR`): the caller decodes them on its own
thread, a page at a time (see `readahead.py`).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from eventbook._backends.sqlite.sql import queries
from eventbook._store.encoding import decode_object
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.types import Position, Snapshot

NEWEST = 2**63 - 1
"""Larger than any version or position: "from the end" when reading backwards."""


Chunk = tuple[bytes | None, int, int | None]
"""Rows fetched at once: their documents joined with `documents.SEPARATOR` (None for no
rows), how many there are, and the ordering key (position or version) of the last one."""


def all_page(
    connection: sqlite3.Connection,
    after: int,
    limit: int,
    types: str | None,
    categories: str | None,
) -> Chunk:
    """The rows after position `after`; filters: JSON arrays of names, or None."""
    q = queries()
    if types is None and categories is None:
        return _chunk(connection.execute(q.read_all, (after, limit)))
    parameters = {"after": after, "limit": limit, "types": types, "categories": categories}
    return _chunk(connection.execute(q.read_all_filtered, parameters))


def stream_page(
    connection: sqlite3.Connection, stream: str, start: int, backwards: bool, limit: int
) -> Chunk:
    """The rows of `stream` from version `start` on, or down from it `backwards`."""
    q = queries()
    query = q.read_stream_backwards if backwards else q.read_stream_forwards
    return _chunk(connection.execute(query, (stream, start, limit)))


def _chunk(cursor: sqlite3.Cursor) -> Chunk:
    joined, count, last = cursor.fetchone()
    return joined, int(count), last


def event_by_id(connection: sqlite3.Connection, event_id: bytes) -> bytes | None:
    row = connection.execute(queries().read_event, (event_id,)).fetchone()
    return None if row is None else bytes(row[0])


def stream_version(connection: sqlite3.Connection, stream: str) -> int:
    (version,) = connection.execute(queries().stream_version, (stream,)).fetchone()
    return int(version)


def head(connection: sqlite3.Connection) -> int | None:
    (position,) = connection.execute(queries().head).fetchone()
    return None if position is None else int(position)


def load_snapshot(
    connection: sqlite3.Connection, stream: str, schema: str, max_version: int | None
) -> Snapshot | None:
    limit = NEWEST if max_version is None else max_version
    row = connection.execute(queries().load_snapshot, (stream, schema, limit)).fetchone()
    if row is None:
        return None
    version, state, taken_at = row
    return Snapshot(stream, version, schema, decode_object(state), datetime.fromisoformat(taken_at))


def data_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute(queries().data_version).fetchone()
    return int(version)


def list_streams(connection: sqlite3.Connection, category: str | None) -> list[StreamInfo]:
    rows = connection.execute(queries().list_streams, (category,)).fetchall()
    return [
        StreamInfo(stream, version, size, Position(0, last), datetime.fromisoformat(at))
        for stream, version, size, last, at in rows
    ]


def stats(connection: sqlite3.Connection, wal_bytes: int) -> StoreStats:
    """Counts in one read transaction, so they agree with each other."""
    q = queries()
    connection.execute("BEGIN")
    try:
        per_type = dict(connection.execute(q.events_per_type).fetchall())
        (streams,) = connection.execute(q.stream_count).fetchone()
        (size,) = connection.execute(q.database_size).fetchone()
    finally:
        connection.execute("COMMIT")
    return StoreStats(sum(per_type.values()), streams, size + wal_bytes, per_type)
