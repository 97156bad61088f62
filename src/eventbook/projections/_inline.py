"""Inline projections: run inside the append's own transaction, on the same database.

Users call `InlineProjections.attach(store)`. The contract with a backend (the one call
it makes, inside its append transaction, after the events are written and before COMMIT):

    SQLite (in the thread that owns the connection, synchronous):
        inline.apply_sqlite(connection: sqlite3.Connection, events: Sequence[RecordedEvent])
    PostgreSQL (asyncpg, inside `async with connection.transaction()`):
        await inline.apply_postgres(connection: asyncpg.Connection, events)

`events` are the appended RecordedEvents, in order, with their final positions. The
call runs every inline projection's handlers, then their buffered writes on that
connection. On SQLite the hook is a plain synchronous call, so inline projections there
need a sink writing to that same database (`SqlSink`, `SearchSink`), whose buffered
writes it runs directly. If a handler or a write fails it raises `InlineProjectionError` (the
projection, the event, the cause): the backend must roll the append back and let the
error reach the caller, so nothing of the append is stored. An exact retry of a
stored batch (idempotent replay) must not call the hook again.

Inline projections keep no checkpoint: a row updated by every append would serialise
all writers. They are consistent the moment append returns; `wait_for` returns at once
for them. The same `Projection` objects run in the daemon too (async) — only the
registration differs. Handlers of inline projections on SQLite may be `async` and
`await batch.fetch` (which runs at once on the connection), as may `upcast_batch`, but
nothing that suspends: such a coroutine is run to its end in one step (`_run_now`), and
one that would suspend fails the append.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any

from eventbook._errors import InlineProjectionError, ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import RecordedEvent
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._builds import setup_projection
from eventbook.projections._ports import CheckpointMove, CheckpointRow, ParkedEvent, Row
from eventbook.projections._projection import Projection
from eventbook.projections.sinks.search import SearchSink
from eventbook.projections.sinks.sql import SqlBatch, SqlSink
from eventbook.projections.sqlite.connection import flush as flush_sqlite

if TYPE_CHECKING:
    import asyncpg


class InlineProjections:
    """The projections a store runs inside its appends."""

    def __init__(self, projections: Sequence[Projection[Any]]) -> None:
        dialects = {p.sink.database.dialect for p in projections}
        if len(dialects) > 1:
            raise ValidationError(f"inline projections must share one database, not {dialects}")
        labels = [p.label for p in projections]
        if len(set(labels)) != len(labels):
            raise ValidationError(f"a projection build is listed twice: {sorted(labels)}")
        self.projections = tuple(projections)
        self.dialect = dialects.pop() if dialects else None
        if self.dialect == "sqlite":
            elsewhere = [p.label for p in projections if not _same_database(p)]
            if elsewhere:
                raise ValidationError(
                    f"inline projections on SQLite write within the append's own call, so"
                    f" their sink must be in the same database (SqlSink, SearchSink): {elsewhere}"
                )

    async def setup(self) -> None:
        """Create the projections' tables and register them as inline."""
        for projection in self.projections:
            await setup_projection(projection, mode="inline")

    def apply_sqlite(self, connection: sqlite3.Connection, events: Sequence[RecordedEvent]) -> None:
        """Run the inline projections on the append's SQLite connection (see module doc)."""
        if not self.projections or not events:
            return
        self._expect("sqlite")
        session = _SQLiteInline(connection)
        for projection in self.projections:
            batch: SqlBatch = projection.sink.begin(session, projection.version)
            event = events[0]
            try:
                current = events
                if projection.upcast_batch is not None:
                    current = _run_now(projection.upcast_batch(events))
                for event in _relevant(projection, current):
                    result = _dispatch(projection, event, batch)
                    if result is not None:  # an async handler
                        _run_now(result)
                flush_sqlite(connection, batch.buffer.take())
            except Exception as error:
                raise InlineProjectionError(
                    projection.label, event.id, event.type, error
                ) from error

    async def apply_postgres(
        self, connection: asyncpg.Connection[Any], events: Sequence[RecordedEvent]
    ) -> None:
        """Run the inline projections on the append's asyncpg connection (see module doc)."""
        if not self.projections or not events:
            return
        self._expect("postgresql")
        from eventbook.projections.postgres.connection import flush as flush_postgres

        schema = getattr(self.projections[0].sink.database, "schema", None)
        if schema is not None:
            # Unqualified table names in handlers mean the projection database's schema.
            await connection.execute(f'SET LOCAL search_path = "{schema}"')
        session = _PostgresInline(connection)
        for projection in self.projections:
            batch = projection.sink.begin(session, projection.version)
            event = events[0]
            try:
                current = events
                if projection.upcast_batch is not None:
                    current = await projection.upcast_batch(events)
                for event in _relevant(projection, current):
                    result = _dispatch(projection, event, batch)
                    if result is not None:
                        await result
                writes = await projection.sink.flush(batch)
                if writes is not None:
                    await flush_postgres(connection, writes.take())
            except Exception as error:
                raise InlineProjectionError(
                    projection.label, event.id, event.type, error
                ) from error

    def attach(self, store: EventStore) -> None:
        """Run these projections inside every later append of `store`.

        The store must be a SQLite or PostgreSQL store on the database the read models
        live in (its `add_append_hook` is the documented call this makes); any other store
        has no transaction to join and is refused with `ValidationError`.
        """
        dialect = getattr(store, "transaction_dialect", None)
        add_hook = getattr(store, "add_append_hook", None)
        if dialect is None or add_hook is None:
            raise ValidationError(
                f"a {type(store).__name__} runs no inline projections: it has no append"
                " transaction to join (SQLite and PostgreSQL stores do)"
            )
        if self.dialect is not None:
            self._expect(dialect)
        add_hook(self.apply_sqlite if dialect == "sqlite" else self.apply_postgres)

    def _expect(self, dialect: str) -> None:
        if self.dialect != dialect:
            raise ValidationError(
                f"these inline projections write to {self.dialect}, not the {dialect} store"
            )


def _same_database(projection: Projection[Any]) -> bool:
    """Whether the projection's writes are SQL in its own database: a batch's buffer."""
    return isinstance(projection.sink, SqlSink | SearchSink)


def _relevant(projection: Projection[Any], events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    chosen = []
    for event in events:
        if projection.categories is not None and event.category not in projection.categories:
            continue
        current = projection.upcast(event) if projection.upcast is not None else event
        if current.type in projection.handlers:
            chosen.append(current)
    return chosen


def _dispatch(projection: Projection[Any], event: RecordedEvent, batch: Any) -> Any:
    return projection.handlers[event.type](event, batch)


def _run_now(awaitable: Awaitable[Any]) -> Any:
    """Run a coroutine that must not suspend (SQLite inline runs inside a sync call)."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    close = getattr(steps, "close", None)
    if close is not None:
        close()
    raise RuntimeError(
        "an inline handler on SQLite awaited something that suspends;"
        " only the batch's own reads may be awaited inline"
    )


class _InlineSession:
    """A session over the backend's connection: reads only; the backend commits."""

    name = "inline"
    version = 0
    epoch = 0
    partition = 0

    async def load(self) -> CheckpointRow:
        raise NotImplementedError("inline projections keep no checkpoint")

    async def commit(
        self,
        writes: WriteBuffer | None,
        move: CheckpointMove | None,
        *,
        park: ParkedEvent | None = None,
        unpark: object = None,
    ) -> None:
        raise NotImplementedError("the backend commits inline projections with the append")

    async def rollback(self) -> None:
        return None

    async def renew(self) -> None:
        return None

    async def record_error(self, error: str) -> None:
        return None

    async def halted(self) -> ParkedEvent | None:
        return None

    async def release(self) -> None:
        return None


class _SQLiteInline(_InlineSession):
    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection

    async def fetch(self, writes: WriteBuffer, sql: str, params: Sequence[Any]) -> list[Row]:
        flush_sqlite(self._conn, writes.take())
        return self._conn.execute(sql, params).fetchall()


class _PostgresInline(_InlineSession):
    dialect = "postgresql"

    def __init__(self, connection: asyncpg.Connection[Any]) -> None:
        self._conn = connection

    async def fetch(self, writes: WriteBuffer, sql: str, params: Sequence[Any]) -> list[Row]:
        from eventbook.projections.postgres.connection import flush as flush_postgres

        await flush_postgres(self._conn, writes.take())
        return list(await self._conn.fetch(sql, *params))
