"""Rebuilds and blue/green builds, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import pytest

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionError,
    ProjectionState,
    RunnerSettings,
    SqlBatch,
    SqlSink,
    active_build,
    drop_build,
    next_build,
    projection_status,
    rebuild,
    switch_to,
    wait_for,
)
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection

FAST = RunnerSettings(batch_size=25, poll_interval=0.05, lease_ttl=2.0, acquire_interval=0.05)


async def test_a_rebuild_equals_the_incrementally_built_model(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        for start in range(0, 60, 10):  # built incrementally, in many small steps
            await place_orders(memory_store, 10, start=start)
            await asyncio.sleep(0.01)
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    incremental = await model(database)
    await rebuild(memory_store, projection, settings=FAST)
    assert await model(database) == incremental
    assert incremental["applied"] == 60 * 2 + 30


async def test_rebuild_while_a_daemon_runs_the_projection(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await place_orders(memory_store, 40)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
        before = await model(database)
        await rebuild(memory_store, projection, timeout=10)  # the daemon's runner replays
        assert await model(database) == before


async def test_blue_green_switch_under_query_load_never_shows_an_empty_model(
    memory_store: MemoryEventStore, database: ProjectionDatabase, tmp_path: Any
) -> None:
    blue = orders_projection(database, version=1)
    green = orders_projection(database, version=2, batch_size=5)  # slow on purpose
    await place_orders(memory_store, 200)
    async with ProjectionDaemon(memory_store, [blue], settings=FAST):
        await wait_for(blue, await memory_store.head() or Position(0, 0), 10)
    expected = await model(database)
    seen: list[int] = []
    stop = asyncio.Event()
    reader = await _reader(database, tmp_path)

    async def query_load() -> None:
        while not stop.is_set():
            seen.append(await reader("SELECT count(*) FROM orders"))
            await asyncio.sleep(0)

    load = [asyncio.create_task(query_load()) for _ in range(3)]
    try:
        async with ProjectionDaemon(memory_store, [blue, green], settings=FAST):
            await asyncio.sleep(0.1)  # green is being built while blue serves
            building = await projection_status(memory_store, green)
            assert building is not None
            assert not building.active
            await switch_to(memory_store, green, timeout=30)
            await asyncio.sleep(0.1)
            retired = await projection_status(memory_store, blue)
            assert retired is not None
            assert retired.state is ProjectionState.RETIRED
        await drop_build(blue)
        await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*load)
        await reader(None)
    assert len(seen) > 50
    assert set(seen) == {200}, "a query saw an empty or half-built model"
    assert await model(database) == expected
    tables = await _tables(database)
    assert "orders_v2" in tables
    assert "orders_v1" not in tables


async def test_a_retired_build_falls_behind_without_being_stuck(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    blue, green = orders_projection(database, version=1), orders_projection(database, version=2)
    await place_orders(memory_store, 3)
    async with ProjectionDaemon(memory_store, [blue, green], settings=FAST):
        await wait_for(blue, await memory_store.head() or Position(0, 0), 10)
        await switch_to(memory_store, green, timeout=30)
        await place_orders(memory_store, 1, start=3)
        await wait_for(green, await memory_store.head() or Position(0, 0), 10)
    retired = await projection_status(memory_store, blue, stuck_after=0)
    assert retired is not None
    assert (retired.state, retired.lag_events, retired.stuck) == (
        ProjectionState.RETIRED,
        2,  # order-3: placed and an item added
        False,
    )


async def test_the_active_build_cannot_be_dropped(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await rebuild(memory_store, projection)
    with pytest.raises(ProjectionError, match="active build"):
        await drop_build(projection)


async def _reader(database: ProjectionDatabase, tmp_path: Any) -> Any:
    """A reader on its own connection, as an application's query side would have."""
    if database.dialect == "sqlite":
        conn = sqlite3.connect(database.path, check_same_thread=False)  # type: ignore[attr-defined]

        async def query(sql: str | None) -> int:
            if sql is None:
                conn.close()
                return 0
            return int(await asyncio.to_thread(lambda: conn.execute(sql).fetchone()[0]))

        return query
    import asyncpg

    pool = await asyncpg.create_pool(
        database.dsn,  # type: ignore[attr-defined]
        min_size=3,
        max_size=3,
        server_settings={"search_path": database.schema},  # type: ignore[attr-defined]
    )

    async def pg_query(sql: str | None) -> int:
        if sql is None:
            await pool.close()
            return 0
        return int(await pool.fetchval(sql))

    return pg_query


async def _tables(database: ProjectionDatabase) -> set[str]:
    if database.dialect == "sqlite":
        rows = await database.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = await database.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    return {row[0] for row in rows}


async def test_a_rebuild_while_a_slow_batch_is_in_flight_waits_for_it(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """The batch holds the build's tables and wants its checkpoint row; the reset takes
    them in the same order, so it waits instead of deadlocking (PostgreSQL), and the
    rebuilt model has every event once."""
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Seen")
    async def seen(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute("INSERT INTO {seen} VALUES (?)", (str(event.id),))
        await batch.fetch("SELECT count(*) FROM {seen}")  # writes now
        await asyncio.sleep(0.1)  # and holds them a while

    sink = SqlSink(database, tables=["seen"], schema=["CREATE TABLE {seen} (id TEXT PRIMARY KEY)"])
    projection = Projection("slow", sink, handlers, batch_size=1)
    for n in range(6):
        await memory_store.append(f"seen-{n}", [NewEvent("Seen", {})])
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await asyncio.sleep(0.25)  # a batch is in flight
        await asyncio.wait_for(rebuild(memory_store, projection, timeout=30), 30)
    rows = await database.fetch("SELECT count(*), count(DISTINCT id) FROM seen")
    assert tuple(rows[0]) == (6, 6)


async def test_the_active_build_is_read_from_the_database_and_a_switch_is_no_lost_lease(
    memory_store: MemoryEventStore,
    database: ProjectionDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    defined = orders_projection(database)  # the code names version 1 only
    assert (await active_build(defined)).version == 1  # never set up: as defined
    await place_orders(memory_store, 20)
    green = next_build(defined)
    assert (green.name, green.version, green.handlers) == ("orders", 2, defined.handlers)
    caplog.set_level(logging.INFO, logger="eventbook.projections")
    async with ProjectionDaemon(memory_store, [defined, green], settings=FAST) as daemon:
        await switch_to(memory_store, green, timeout=10)
        await place_orders(memory_store, 1, start=20)  # the blue runner's next commit fails
        while daemon.states()[defined.label].value != "retired":  # noqa: ASYNC110 - a runner state
            await asyncio.sleep(0.02)
    assert (await active_build(defined)).version == 2  # what a restarted process runs
    said = [r.getMessage() for r in caplog.records if r.name == "eventbook.projections"]
    assert "orders@v1: retired (a newer build is active); runner ends" in said
    assert not [m for m in said if "lease" in m.lower() and "lost" in m.lower()], said


async def test_a_quiet_build_is_stuck_only_once_a_new_event_has_waited_too_long(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await place_orders(memory_store, 1)
    await rebuild(memory_store, projection)
    await asyncio.sleep(0.3)  # the checkpoint has not moved for a while: a quiet build
    await place_orders(memory_store, 1, start=1)  # and nothing runs it
    fresh = await projection_status(memory_store, projection, stuck_after=0.2)
    assert fresh is not None
    assert (fresh.lag_events, fresh.stuck) == (2, False)  # just behind, not stuck
    await asyncio.sleep(0.3)
    waited = await projection_status(memory_store, projection, stuck_after=0.2)
    assert waited is not None
    assert (waited.lag_events, waited.stuck) == (2, True)
