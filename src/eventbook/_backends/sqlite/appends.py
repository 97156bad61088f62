"""The write transaction: a group of concurrent appends committed together.

The writer thread takes every append waiting for it and writes them in one
`BEGIN IMMEDIATE` transaction, so one disk sync serves the whole group (group commit).
Each append keeps its own checks and its own savepoint: a conflict, a reused id or a
failing hook aborts that append alone while the others commit.

Everything here runs in the writer thread, holding SQLite's write lock for the whole
transaction. That lock is what makes the checks sound across processes: the stream
version and the next position are read under it, and no other connection can commit
until this transaction ends.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import msgspec

from eventbook._backends.sqlite.documents import decode_documents, encode_document
from eventbook._backends.sqlite.sql import INSERT_CHUNKS, insert_events, queries
from eventbook._errors import (
    ConcurrencyError,
    DuplicateEventError,
    StreamDeleted,
    UnavailableError,
)
from eventbook._store.idempotency import StoredEvent, replayed_result
from eventbook._store.lifecycle import StreamMarks, check_writable
from eventbook._store.types import (
    AppendResult,
    EncodedBatch,
    Position,
    RecordedEvent,
    check_expected,
)

AppendHook = Callable[[sqlite3.Connection, Sequence[RecordedEvent]], None]
"""Extra work inside an append's transaction; see `SQLiteEventStore.add_append_hook`."""

_encode_names = msgspec.json.Encoder().encode
_decode_versions = msgspec.json.Decoder(dict[str, int]).decode
_decode_marks = msgspec.json.Decoder(dict[str, tuple[int, int, int, int]]).decode

_ID_CHUNK = 500  # ids per lookup statement, well below SQLite's bound-parameter limit


class AppendJob:
    """One append waiting in the writer's queue, and what became of it."""

    __slots__ = ("batch", "error", "future", "result")

    def __init__(self, batch: EncodedBatch, future: asyncio.Future[AppendResult]) -> None:
        self.batch = batch
        self.future = future
        self.result: AppendResult | None = None
        self.error: Exception | None = None


def commit_group(
    connection: sqlite3.Connection, jobs: Sequence[AppendJob], hooks: Sequence[AppendHook]
) -> bool:
    """Write `jobs` in one transaction, giving each a result or an error.

    Returns whether any event was committed (so that subscribers are worth waking).
    """
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        _fail_all(jobs, exc)
        return False
    try:
        written = None if hooks else _append_together(connection, jobs)
        if written is None:  # hooks to run, or an id stored already: one append at a time
            for job in jobs:
                job.result, job.error = None, None
            written = _append_each(connection, jobs, hooks)
        connection.execute("COMMIT")
    except (sqlite3.Error, _TransactionLost) as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        cause = exc.cause if isinstance(exc, _TransactionLost) else exc
        _fail_all(jobs, cause)
        return False
    except Exception as exc:  # a bug of ours: fail the group, keep the writer thread alive
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        for job in jobs:
            job.result, job.error = None, exc
        return False
    return written > 0


def group_start(
    connection: sqlite3.Connection, streams: Sequence[str]
) -> tuple[int, dict[str, int], dict[str, StreamMarks]]:
    """The next global position, the current version of each of `streams`, and the
    lifecycle marks of those that have any."""
    names = _encode_names(list(dict.fromkeys(streams)))
    row = connection.execute(queries().group_start, (names,)).fetchone()
    next_position, versions, marks = row
    return (
        next_position,
        {} if versions is None else _decode_versions(versions),
        {} if marks is None else {name: _marks(*m) for name, m in _decode_marks(marks).items()},
    )


def _marks(first: int, last: int, deleted: int, tombstoned: int) -> StreamMarks:
    return StreamMarks(first, last, bool(deleted), bool(tombstoned))


def stream_marks(connection: sqlite3.Connection, stream: str) -> StreamMarks | None:
    row = connection.execute(queries().stream_marks, (stream,)).fetchone()
    if row is None:
        return None
    first, last, deleted, tombstoned, max_count, max_age = row
    return StreamMarks(first, last, bool(deleted), bool(tombstoned), max_count, max_age)


def _append_together(connection: sqlite3.Connection, jobs: Sequence[AppendJob]) -> int | None:
    """Check every append in Python and insert all their rows in as few statements as can be.

    This is the common path, and it is short on purpose: a statement's step releases the
    GIL and must take it back, and while the event loop's thread runs Python that wait is
    long. So the group costs a fixed handful of statements, whatever its size. Returns
    how many events it wrote, or None when an event id is stored already; then nothing
    is written, and the caller goes one append at a time to tell retries from reuse.
    """
    next_position, versions, marks = group_start(connection, [job.batch.stream for job in jobs])
    if any(m.deleted or m.tombstoned for m in marks.values()):
        return None  # refused, or a new history: one append at a time
    recorded_at = datetime.now(UTC)
    rows: list[_Row] = []
    for job in jobs:
        batch = job.batch
        current = versions.get(batch.stream, 0)
        try:
            check_expected(batch.stream, batch.expected, current)
        except ConcurrencyError as conflict:
            ids = {event.id.bytes for event in batch.events}
            if any(row[1] in ids for row in rows):
                return None  # a retry of an append in this group: tell which, one by one
            try:
                job.result = _retried(connection, batch, conflict)
            except (ConcurrencyError, DuplicateEventError) as refused:
                job.error = refused
            continue
        _, new_rows = rows_of(batch, current, next_position, recorded_at)
        rows.extend(new_rows)
        last = new_rows[-1]
        job.result = AppendResult(last[3], Position(0, last[0]))
        versions[batch.stream] = last[3]
        next_position += len(new_rows)
    try:
        insert_rows(connection, rows)
    except sqlite3.IntegrityError:
        # Under the write lock, with the versions checked, only a stored id can collide.
        connection.execute("ROLLBACK")  # inserts of earlier chunks are undone too
        connection.execute("BEGIN IMMEDIATE")
        return None
    return len(rows)


def _append_each(
    connection: sqlite3.Connection, jobs: Sequence[AppendJob], hooks: Sequence[AppendHook]
) -> int:
    """Append `jobs` one by one, each in its own savepoint; returns the events written."""
    next_position, versions, _ = group_start(connection, [jobs[0].batch.stream])
    current: int | None = versions.get(jobs[0].batch.stream, 0)
    recorded_at = datetime.now(UTC)
    written = 0
    for job in jobs:
        try:
            outcome = _append(connection, job.batch, next_position, recorded_at, hooks, current)
        except Exception as exc:
            job.error = unavailable(exc) if isinstance(exc, sqlite3.Error) else exc
            if not connection.in_transaction:  # SQLite rolled everything back (I/O error...)
                raise _TransactionLost(exc) from exc
            continue
        finally:
            current = None  # only the first append's stream version was read already
        job.result, count = outcome
        next_position += count
        written += count
    return written


def _append(
    connection: sqlite3.Connection,
    batch: EncodedBatch,
    first_position: int,
    recorded_at: datetime,
    hooks: Sequence[AppendHook],
    current: int | None,
) -> tuple[AppendResult, int]:
    """Check and insert one batch; return its result and how many events it wrote.

    `current` is the stream's version when the caller read it already in this transaction.
    """
    stream = batch.stream
    if current is None:
        (current,) = connection.execute(queries().stream_version, (stream,)).fetchone()
    try:
        restarted = check_writable(batch, stream_marks(connection, stream), current)
    except (ConcurrencyError, StreamDeleted) as conflict:
        return _retried(connection, batch, conflict), 0
    documents, rows = rows_of(batch, current, first_position, recorded_at)
    connection.execute("SAVEPOINT eventbook_append")
    try:
        if restarted:  # a new history of a deleted stream
            connection.execute(queries().reopen_stream, (stream,))
        try:
            insert_rows(connection, rows)
        except sqlite3.IntegrityError:
            connection.execute("ROLLBACK TO eventbook_append")
            stored = stored_events(connection, batch)
            if not stored:
                raise
            return replayed_result(batch, stored), 0
        if hooks:
            recorded = decode_documents(documents)
            for hook in hooks:
                hook(connection, recorded)
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK TO eventbook_append")
            connection.execute("RELEASE eventbook_append")
        raise
    connection.execute("RELEASE eventbook_append")
    last = rows[-1]
    return AppendResult(last[3], Position(0, last[0])), len(rows)


def _retried(
    connection: sqlite3.Connection,
    batch: EncodedBatch,
    conflict: ConcurrencyError | StreamDeleted,
) -> AppendResult:
    """The result of `batch`, whose expected version failed, if it is an exact retry.

    An exact retry of a stored batch succeeds whatever its (now stale) expectation; a
    batch reusing stored ids otherwise raises `DuplicateEventError`, and a batch with new
    ids raises `conflict`.
    """
    stored = stored_events(connection, batch)
    if not stored:
        raise conflict
    return replayed_result(batch, stored)


_Row = tuple[int, bytes, str, int, str, bytes]
"""position, id, stream, version, type, document: the columns `insert_event` binds."""


def rows_of(
    batch: EncodedBatch, current: int, first_position: int, recorded_at: datetime
) -> tuple[list[bytes], list[_Row]]:
    """The documents of `batch` appended after version `current`, and their rows."""
    stream = batch.stream
    before = first_position - 1  # offsets count from 1, like versions
    documents = [
        encode_document(
            event, stream, current + offset, before + offset, event.recorded_at or recorded_at
        )
        for offset, event in enumerate(batch.events, start=1)
    ]
    rows = [
        (before + offset, event.id.bytes, stream, current + offset, event.type, document)
        for offset, (event, document) in enumerate(zip(batch.events, documents, strict=True), 1)
    ]
    return documents, rows


def insert_rows(connection: sqlite3.Connection, rows: Sequence[_Row]) -> None:
    """Insert `rows` with a multi-row statement per chunk (one step each, not one per row)."""
    done = 0
    while done < len(rows):
        size = next(size for size in INSERT_CHUNKS if size <= len(rows) - done)
        chunk = rows[done : done + size]
        connection.execute(insert_events(size), [value for row in chunk for value in row])
        done += size


def stored_events(connection: sqlite3.Connection, batch: EncodedBatch) -> list[StoredEvent]:
    """The stored events whose ids occur in `batch`, in global (so stream) order."""
    template = queries().events_by_ids
    ids = [event.id.bytes for event in batch.events]
    documents: list[bytes] = []
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        statement = template.format(ids=",".join("?" * len(chunk)))
        documents.extend(row[0] for row in connection.execute(statement, chunk))
    found = decode_documents(documents)
    found.sort(key=lambda e: e.position)
    return [StoredEvent(e.id, e.stream, e.version, e.position, e.type, e.data) for e in found]


class _TransactionLost(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _fail_all(jobs: Sequence[AppendJob], cause: BaseException) -> None:
    """The group's transaction did not commit: no append of it is stored."""
    for job in jobs:
        job.result = None
        if job.error is None or job.error.__cause__ is cause or job.error is cause:
            job.error = unavailable(cause)


def unavailable(
    cause: BaseException, outcome: str = "the append was not stored"
) -> UnavailableError:
    """A driver failure as eventbook's error; a busy database says how to wait longer."""
    text = str(cause)
    if isinstance(cause, sqlite3.OperationalError) and "locked" in text:
        text += " (another connection held the write lock longer than busy_timeout)"
    error = UnavailableError(f"SQLite: {text}; {outcome}")
    error.__cause__ = cause
    return error
