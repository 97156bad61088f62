"""Stream lifecycle on SQLite: each change in one write transaction, in the writer thread.

The marks (`eventbook_streams`), the removal of events and snapshots, and the system
event in `$$<stream>` commit together, so a reader sees all of a change or none of it.
Removed rows free no position: a trigger records the highest removed one in
`eventbook_removed`, and new positions start above it (migration 0004).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from eventbook._backends.sqlite.appends import (
    AppendHook,
    group_start,
    insert_rows,
    rows_of,
    stream_marks,
)
from eventbook._backends.sqlite.documents import decode_documents
from eventbook._backends.sqlite.sql import queries
from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    StreamMarks,
    StreamState,
    marker_batch,
    plan_delete,
    plan_purge,
    plan_truncate,
    state_of,
)
from eventbook._store.types import AppendResult, EncodedBatch, Expected, Position

Change = Callable[[StreamMarks | None, int], "tuple[StreamMarks | None, EncodedBatch] | None"]
"""Given a stream's marks and version: its new marks (None: forget them) and the system
event to append, or None for no change. It may remove rows; it runs in the transaction."""


def delete_stream(
    connection: sqlite3.Connection,
    stream: str,
    expected: Expected,
    hard: bool,
    hooks: Sequence[AppendHook],
) -> AppendResult | None:
    def change(marks: StreamMarks | None, version: int) -> tuple[StreamMarks, EncodedBatch]:
        new = plan_delete(stream, expected, hard, version, marks)
        if hard:
            _remove(connection, stream, version + 1, kept=False)
        return new, marker_batch(STREAM_DELETED, stream, version=version, hard=hard)

    return _changed(connection, stream, change, hooks)


def truncate_stream(
    connection: sqlite3.Connection, stream: str, before: int, hooks: Sequence[AppendHook]
) -> AppendResult | None:
    def change(marks: StreamMarks | None, version: int) -> tuple[StreamMarks, EncodedBatch] | None:
        new = plan_truncate(stream, before, version, marks)
        if new is None:
            return None
        _remove(connection, stream, new.first_version, kept=True)
        return new, marker_batch(STREAM_TRUNCATED, stream, before=new.first_version)

    return _changed(connection, stream, change, hooks)


def purge_stream(
    connection: sqlite3.Connection, stream: str, hooks: Sequence[AppendHook]
) -> AppendResult | None:
    def change(marks: StreamMarks | None, version: int) -> tuple[None, EncodedBatch] | None:
        if not plan_purge(stream, version, marks):
            return None
        _remove(connection, stream, version + 1, kept=False)
        return None, marker_batch(STREAM_ARCHIVED, stream, version=version)

    return _changed(connection, stream, change, hooks)


def set_retention(
    connection: sqlite3.Connection,
    stream: str,
    max_count: int | None,
    max_age_seconds: float | None,
) -> None:
    connection.execute("BEGIN IMMEDIATE")
    try:
        marks = stream_marks(connection, stream) or StreamMarks()
        marks.max_count, marks.max_age_seconds = max_count, max_age_seconds
        _save(connection, stream, marks)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def retained_streams(connection: sqlite3.Connection) -> list[StreamState]:
    rows = connection.execute(queries().retained_streams).fetchall()
    return [
        state_of(stream, version, StreamMarks(first, last, False, False, count, age))
        for stream, version, first, last, count, age in rows
    ]


def newest_snapshot(connection: sqlite3.Connection, stream: str) -> int | None:
    (version,) = connection.execute(queries().newest_snapshot, (stream,)).fetchone()
    return None if version is None else int(version)


def _changed(
    connection: sqlite3.Connection, stream: str, change: Change, hooks: Sequence[AppendHook]
) -> AppendResult | None:
    q = queries()
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute(q.stream_version, (stream,)).fetchone()
        marks = stream_marks(connection, stream)
        outcome = change(marks, max(version, marks.last_version if marks else 0))
        if outcome is None:
            connection.execute("ROLLBACK")
            return None
        new, marker = outcome
        if new is None:
            connection.execute(q.forget_marks, (stream,))
        else:
            _save(connection, stream, new)
        result = _append_marker(connection, marker, hooks)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def _append_marker(
    connection: sqlite3.Connection, marker: EncodedBatch, hooks: Sequence[AppendHook]
) -> AppendResult:
    next_position, versions, _ = group_start(connection, [marker.stream])
    documents, rows = rows_of(
        marker, versions.get(marker.stream, 0), next_position, datetime.now(UTC)
    )
    insert_rows(connection, rows)
    for hook in hooks:  # inline projections see the change in its own transaction
        hook(connection, decode_documents(documents))
    return AppendResult(rows[-1][3], Position(0, rows[-1][0]))


def _remove(connection: sqlite3.Connection, stream: str, before: int, *, kept: bool) -> None:
    q = queries()
    connection.execute(q.remove_events, (stream, before))
    connection.execute(q.remove_snapshots, (stream, before, int(kept)))


def _save(connection: sqlite3.Connection, stream: str, marks: StreamMarks) -> None:
    connection.execute(
        queries().save_marks,
        (
            stream,
            marks.first_version,
            marks.last_version,
            int(marks.deleted),
            int(marks.tombstoned),
            marks.max_count,
            marks.max_age_seconds,
        ),
    )
