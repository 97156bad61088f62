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

from eventbook.backends.sqlite.documents import decode_documents, encode_document
from eventbook.backends.sqlite.sql import queries
from eventbook.errors import ConcurrencyError, UnavailableError
from eventbook.idempotency import StoredEvent, replayed_result
from eventbook.store import AppendResult, EncodedBatch, Position, RecordedEvent, check_expected

AppendHook = Callable[[sqlite3.Connection, Sequence[RecordedEvent]], None]
"""Extra work inside an append's transaction; see `SQLiteEventStore.add_append_hook`."""

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
    q = queries()
    written = 0
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        _fail_all(jobs, exc)
        return False
    try:
        next_position, current = connection.execute(
            q.group_start, (jobs[0].batch.stream,)
        ).fetchone()
        recorded_at = datetime.now(UTC)
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
        connection.execute("COMMIT")
    except (sqlite3.Error, _TransactionLost) as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        cause = exc.cause if isinstance(exc, _TransactionLost) else exc
        _fail_all(jobs, cause)
        return False
    return written > 0


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
    q = queries()
    stream = batch.stream
    if current is None:
        (current,) = connection.execute(q.stream_version, (stream,)).fetchone()
    try:
        check_expected(stream, batch.expected, current)
    except ConcurrencyError:
        # An exact retry of a stored batch succeeds whatever its (now stale) expectation.
        stored = stored_events(connection, batch)
        if stored:
            return replayed_result(batch, stored), 0
        raise
    before = first_position - 1  # offsets count from 1, like versions
    documents = [
        encode_document(event, stream, current + offset, before + offset, recorded_at)
        for offset, event in enumerate(batch.events, start=1)
    ]
    rows = [
        (before + offset, event.id.bytes, stream, current + offset, event.type, document)
        for offset, (event, document) in enumerate(zip(batch.events, documents, strict=True), 1)
    ]
    # A statement is atomic, so one row needs no savepoint: it is inserted or it is not.
    # Several rows (several statements) or a hook's writes do, to be undone together.
    guarded = len(rows) > 1 or bool(hooks)
    if guarded:
        connection.execute("SAVEPOINT eventbook_append")
    try:
        try:
            if guarded:
                connection.executemany(q.insert_event, rows)
            else:
                connection.execute(q.insert_event, rows[0])
        except sqlite3.IntegrityError:
            # Under the write lock, with the version checked, only a stored id can collide.
            if guarded:
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
        if guarded and connection.in_transaction:
            connection.execute("ROLLBACK TO eventbook_append")
            connection.execute("RELEASE eventbook_append")
        raise
    if guarded:
        connection.execute("RELEASE eventbook_append")
    last = rows[-1]
    return AppendResult(last[3], Position(0, last[0])), len(rows)


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


def unavailable(cause: BaseException) -> UnavailableError:
    """A driver failure as eventbook's error; a busy database says how to wait longer."""
    text = str(cause)
    if isinstance(cause, sqlite3.OperationalError) and "locked" in text:
        text += " (another connection held the write lock longer than busy_timeout)"
    error = UnavailableError(f"SQLite: {text}; the append was not stored")
    error.__cause__ = cause
    return error
