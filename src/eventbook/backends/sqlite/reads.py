"""Reads, run in the reader threads, each on that thread's own connection.

Every function is one statement, so it sees one consistent snapshot (WAL), and none
of them ever waits for the writer. Pages come back as rows of raw JSON documents: the
caller decodes them on its own thread, a page at a time (see `readahead.py`).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from eventbook.backends.sqlite.sql import queries
from eventbook.encoding import decode_object
from eventbook.store import Snapshot

NEWEST = 2**63 - 1
"""Larger than any version or position: "from the end" when reading backwards."""


def all_page(
    connection: sqlite3.Connection,
    after: int,
    limit: int,
    types: str | None,
    categories: str | None,
) -> list[tuple[int, bytes]]:
    """(position, document) rows after position `after`; filters: JSON arrays or None."""
    q = queries()
    if types is None and categories is None:
        return connection.execute(q.read_all, (after, limit)).fetchall()
    parameters = {"after": after, "limit": limit, "types": types, "categories": categories}
    return connection.execute(q.read_all_filtered, parameters).fetchall()


def stream_page(
    connection: sqlite3.Connection, stream: str, start: int, backwards: bool, limit: int
) -> list[tuple[int, bytes]]:
    """(version, document) rows of `stream` from version `start` on, or down `backwards`."""
    q = queries()
    query = q.read_stream_backwards if backwards else q.read_stream_forwards
    return connection.execute(query, (stream, start, limit)).fetchall()


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
