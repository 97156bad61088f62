"""Inline projections: the hook a backend calls inside its append transaction.

The backends wire the hook in separately; here a real connection plays the backend:
it opens a transaction, writes its event rows, calls the hook, and commits (or rolls
back when the hook raises), exactly as the hook's contract asks.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import eventbook
from eventbook._backends.memory import MemoryEventStore
from eventbook._errors import ValidationError
from eventbook._store.ids import uuid7
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    InlineProjectionError,
    InlineProjections,
    ModeMismatch,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionState,
    RunnerSettings,
    SqlBatch,
    SQLiteDatabase,
    SqlSink,
    projection_status,
    wait_for,
)
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection

EVENTS_TABLE = "CREATE TABLE IF NOT EXISTS fake_events (position BIGINT, type TEXT)"


def recorded(start: int, *specs: tuple[str, str, dict[str, Any]]) -> list[RecordedEvent]:
    now = datetime.now(UTC)
    return [
        RecordedEvent(uuid7(), stream, 1, Position(0, start + n), kind, data, {}, now)
        for n, (stream, kind, data) in enumerate(specs)
    ]


class FakeBackend:
    """Appends the way a backend does: one transaction, the hook before COMMIT."""

    def __init__(self, database: ProjectionDatabase, inline: InlineProjections) -> None:
        self.database = database
        self.inline = inline
        self.next = 1

    async def append(self, *specs: tuple[str, str, dict[str, Any]]) -> None:
        events = recorded(self.next, *specs)
        if self.database.dialect == "sqlite":
            self._append_sqlite(events)
        else:
            await self._append_postgres(events)
        self.next += len(events)

    def _append_sqlite(self, events: Sequence[RecordedEvent]) -> None:
        path = self.database.path  # type: ignore[attr-defined]
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute(EVENTS_TABLE)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for e in events:
                    conn.execute(
                        "INSERT INTO fake_events VALUES (?, ?)", (e.position.minor, e.type)
                    )
                self.inline.apply_sqlite(conn, events)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    async def _append_postgres(self, events: Sequence[RecordedEvent]) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.database.dsn)  # type: ignore[attr-defined]
        try:
            await conn.execute(f'SET search_path = "{self.database.schema}"')  # type: ignore[attr-defined]
            await conn.execute(EVENTS_TABLE)
            async with conn.transaction():
                for e in events:
                    await conn.execute(
                        "INSERT INTO fake_events VALUES ($1, $2)", e.position.minor, e.type
                    )
                await self.inline.apply_postgres(conn, events)
        finally:
            await conn.close()


async def test_an_inline_projection_is_current_when_the_append_returns(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    inline = InlineProjections([projection])
    await inline.setup()
    backend = FakeBackend(database, inline)
    await backend.append(
        ("order-1", "OrderPlaced", {"customer": "ada", "total": 10}),
        ("order-1", "ItemAdded", {"amount": 5}),
    )
    built = await model(database)  # no waiting: it committed with the append
    assert built["orders"] == [("order-1", "ada", 15, "placed", 2)]
    await wait_for(projection, Position(0, 10**9), 0.01)  # inline: returns at once
    status = await projection_status(memory_store, projection)
    assert status is not None
    assert status.state is ProjectionState.INLINE


async def test_a_failing_inline_handler_aborts_the_append(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database, poison=lambda e: e.data.get("amount") == 666)
    inline = InlineProjections([projection])
    await inline.setup()
    backend = FakeBackend(database, inline)
    await backend.append(("order-1", "OrderPlaced", {"customer": "ada", "total": 10}))
    with pytest.raises(InlineProjectionError, match=r"orders@v1' failed on ItemAdded .*poisoned"):
        await backend.append(
            ("order-1", "ItemAdded", {"amount": 1}),
            ("order-1", "ItemAdded", {"amount": 666}),
        )
    rows = await database.fetch("SELECT count(*) FROM fake_events")
    assert rows[0][0] == 1  # the append's own rows were rolled back with it
    assert (await model(database))["orders"] == [("order-1", "ada", 10, "placed", 1)]


async def test_a_failing_inline_write_aborts_the_append(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    inline = InlineProjections([orders_projection(database)])
    await inline.setup()
    backend = FakeBackend(database, inline)
    placed = ("order-1", "OrderPlaced", {"customer": "ada", "total": 10})
    await backend.append(placed)
    with pytest.raises(InlineProjectionError, match="orders@v1"):
        await backend.append(placed)  # the same order id again: a primary-key violation
    rows = await database.fetch("SELECT count(*) FROM fake_events")
    assert rows[0][0] == 1


async def test_the_same_projection_code_runs_inline_or_in_the_daemon(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 30)
    events = [e async for e in memory_store.read_all()]
    inline_build = orders_projection(database, name="inline_orders")
    inline = InlineProjections([inline_build])
    await inline.setup()
    backend = FakeBackend(database, inline)
    for start in range(0, len(events), 7):
        chunk = events[start : start + 7]
        await backend.append(*((e.stream, e.type, e.data) for e in chunk))
    async_build = orders_projection(database, name="async_orders", version=2)
    async with ProjectionDaemon(memory_store, [async_build], settings=RunnerSettings(batch_size=9)):
        await wait_for(async_build, await memory_store.head() or Position(0, 0), 5)
    # Both builds share the table names; compare their versioned tables.
    assert await model(database, version=1) == await model(database, version=2)


async def test_inline_projections_refuse_the_wrong_backend(sqlite_db: SQLiteDatabase) -> None:
    inline = InlineProjections([orders_projection(sqlite_db)])
    with pytest.raises(Exception, match="write to sqlite, not the postgresql store"):
        await inline.apply_postgres(None, recorded(1, ("a-1", "OrderPlaced", {})))  # type: ignore[arg-type]


async def test_attach_refuses_a_store_without_append_transactions(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase
) -> None:
    inline = InlineProjections([orders_projection(sqlite_db)])
    with pytest.raises(ValidationError, match="MemoryEventStore runs no inline projections"):
        inline.attach(memory_store)


async def test_attach_refuses_a_store_of_another_dialect(
    pg_db: ProjectionDatabase, tmp_path: Path
) -> None:
    inline = InlineProjections([orders_projection(pg_db)])
    async with await eventbook.connect(f"sqlite:///{tmp_path}/events.db") as store:
        with pytest.raises(ValidationError, match="write to postgresql, not the sqlite store"):
            inline.attach(store)
        # nothing was attached: appends go on without the hook
        await store.append("order-1", [NewEvent("OrderPlaced", {"customer": "a", "total": 1})])


async def test_a_build_runs_either_inline_or_in_the_daemon_not_both(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase
) -> None:
    projection = orders_projection(sqlite_db)
    await InlineProjections([projection]).setup()
    with pytest.raises(ModeMismatch, match="runs inline; it cannot also run async"):
        async with ProjectionDaemon(memory_store, [projection]):
            pass


def _tally(database: ProjectionDatabase, wait: bool = False) -> Projection[SqlBatch]:
    """Counts events per stream; its async handler reads before it writes."""
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Counted")
    async def counted(event: RecordedEvent, batch: SqlBatch) -> None:
        if wait:
            await asyncio.sleep(0)  # suspends: not allowed inside a SQLite append
        seen = await batch.fetchval(
            "SELECT count(*) FROM {tally} WHERE stream = ?", (event.stream,)
        )
        batch.execute("INSERT INTO {tally} VALUES (?, ?)", (event.stream, seen + 1))

    schema = ["CREATE TABLE {tally} (stream TEXT NOT NULL, n INTEGER NOT NULL)"]
    return Projection("tally", SqlSink(database, tables=["tally"], schema=schema), handlers)


async def test_an_async_inline_handler_may_read_its_own_writes(
    database: ProjectionDatabase,
) -> None:
    inline = InlineProjections([_tally(database)])
    await inline.setup()
    backend = FakeBackend(database, inline)
    await backend.append(*[("s-1", "Counted", {})] * 3, ("s-2", "Counted", {}))
    rows = await database.fetch("SELECT stream, n FROM tally ORDER BY stream, n")
    assert [tuple(row) for row in rows] == [("s-1", 1), ("s-1", 2), ("s-1", 3), ("s-2", 1)]


async def test_an_inline_handler_that_suspends_on_sqlite_aborts_the_append(
    sqlite_db: SQLiteDatabase,
) -> None:
    inline = InlineProjections([_tally(sqlite_db, wait=True)])
    await inline.setup()
    with pytest.raises(InlineProjectionError, match="awaited something that suspends"):
        await FakeBackend(sqlite_db, inline).append(("s-1", "Counted", {}))
    assert await sqlite_db.fetch("SELECT count(*) FROM fake_events") == [(0,)]


def test_inline_projections_on_sqlite_need_a_sink_in_the_same_database(
    sqlite_db: SQLiteDatabase,
) -> None:
    class Elsewhere:
        database = sqlite_db

    projection = Projection("feed", Elsewhere(), {"Counted": print})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"sink must be in the same database .*feed@v1"):
        InlineProjections([projection])
