"""One active runner per projection build: leases, takeover and fencing."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time

import pytest

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import Position
from eventbook.projections import (
    HandlerRetry,
    LeaseLost,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionRunner,
    RunnerSettings,
    RunnerState,
    SQLiteDatabase,
    list_parked,
    setup_projection,
    wait_for,
)
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._ports import CheckpointMove
from tests.conftest import PostgresForTests
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection, sql_for

QUICK = RunnerSettings(batch_size=10, poll_interval=0.05, lease_ttl=1.0, acquire_interval=0.05)


async def test_a_second_daemon_stands_by_and_takes_over(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await place_orders(memory_store, 20)
    first = ProjectionDaemon(memory_store, [projection], settings=QUICK)
    second = ProjectionDaemon(memory_store, [projection], settings=QUICK)
    async with first:
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
        async with second:
            await asyncio.sleep(0.3)
            assert first.states() == {"orders@v1": RunnerState.LIVE}
            assert second.states() == {"orders@v1": RunnerState.STANDBY}
            await first.__aexit__(None, None, None)  # graceful stop releases the lease
            await place_orders(memory_store, 5, start=20)
            await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
            assert second.states() == {"orders@v1": RunnerState.LIVE}
    built = await model(database)
    assert (built["applied"], built["duplicates"]) == (25 * 2 + 13, 0)


async def test_racing_daemons_never_both_apply_an_event(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """Daemons start and stop at random while events arrive; every event applies once."""
    projection = orders_projection(database)
    await setup_projection(projection)
    done = asyncio.Event()

    async def churn(seed: int) -> None:
        chance = random.Random(seed)
        while not done.is_set():
            async with ProjectionDaemon(memory_store, [projection], settings=QUICK):
                await asyncio.sleep(chance.uniform(0.01, 0.15))

    async def write() -> None:
        for n in range(0, 300, 10):
            await place_orders(memory_store, 10, start=n)
            await asyncio.sleep(0.01)

    racers = [asyncio.create_task(churn(seed)) for seed in range(3)]
    await write()
    async with ProjectionDaemon(memory_store, [projection], settings=QUICK):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 20)
        done.set()
        await asyncio.gather(*racers)
    built = await model(database)
    assert (built["applied"], built["duplicates"]) == (300 * 2 + 150, 0)
    assert built["totals"] == (750, sum(range(300)) + 300 * 3)


async def test_a_runner_that_lost_its_lease_cannot_commit(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await setup_projection(projection)
    stale = await database.acquire("orders", 1, "stale-owner", ttl=0.01)
    assert stale is not None
    await asyncio.sleep(0.05)  # its lease expires (SQLite) ...
    if database.dialect == "postgresql":
        await stale.rollback()
        # ... or, on PostgreSQL, a reset fences it while it still holds the lock.
        await database.reset("orders", 1, [], [])
    else:
        fresh = await database.acquire("orders", 1, "fresh-owner", ttl=10)
        assert fresh is not None
        await fresh.release()
    writes = WriteBuffer()
    writes.add(
        sql_for(database.dialect, "INSERT INTO orders_v1 VALUES (?, 'x', 1, 'placed', 1)"),
        ("order-x",),
    )
    try:
        with pytest.raises(LeaseLost):
            await stale.commit(writes, CheckpointMove(None, Position(0, 5)))
    finally:
        await stale.release()
    assert await database.fetch("SELECT * FROM orders_v1") == []  # the write rolled back too
    row = await database.checkpoint("orders", 1)
    assert row is not None
    assert row.position is None


async def test_the_checkpoint_moves_only_from_the_expected_position(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    await setup_projection(projection)
    session = await database.acquire("orders", 1, "me", ttl=10)
    assert session is not None
    try:
        await session.commit(None, CheckpointMove(None, Position(0, 3)))
        with pytest.raises(LeaseLost):
            await session.commit(None, CheckpointMove(Position(0, 2), Position(0, 4)))
        await session.commit(None, CheckpointMove(Position(0, 3), Position(0, 4)))
    finally:
        await session.release()
    row = await database.checkpoint("orders", 1)
    assert row is not None
    assert row.position == Position(0, 4)


async def test_sqlite_takes_over_at_once_from_a_dead_process(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase
) -> None:
    projection = orders_projection(sqlite_db)
    await setup_projection(projection)
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()  # its pid now belongs to no process
    dead = f"{os.uname().nodename}:{child.pid}:gone"
    await _take_lease(sqlite_db, dead, ttl=3600)
    started = time.monotonic()
    taken = await sqlite_db.acquire("orders", 1, "successor", ttl=10)
    assert taken is not None, "the lease of a dead process on this host is free"
    await taken.release()
    assert time.monotonic() - started < 1
    await _take_lease(sqlite_db, f"{os.uname().nodename}:{os.getppid()}:alive", ttl=3600)
    assert await sqlite_db.acquire("orders", 1, "successor", ttl=10) is None


async def _take_lease(database: SQLiteDatabase, owner: str, ttl: float) -> None:
    session = await database.acquire("orders", 1, owner, ttl)
    assert session is not None
    # Leave the row as a crashed owner would: held, not released.
    await session._worker.close()


async def test_postgres_advisory_lock_goes_with_the_connection(
    memory_store: MemoryEventStore, pg_db: ProjectionDatabase
) -> None:
    projection = orders_projection(pg_db)
    await setup_projection(projection)
    held = await pg_db.acquire("orders", 1, "first", ttl=3600)
    assert held is not None
    assert await pg_db.acquire("orders", 1, "second", ttl=10) is None
    held.connection.terminate()  # the process died: the server drops the lock at once
    for _ in range(100):
        successor = await pg_db.acquire("orders", 1, "second", ttl=10)
        if successor is not None:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the lock was not released with its connection")
    assert successor.epoch == held.epoch + 1
    await successor.release()
    await held.release()


async def test_postgres_schemas_hold_their_own_leases(
    postgres: PostgresForTests, pg_db: ProjectionDatabase
) -> None:
    from eventbook.projections.postgres import PostgresDatabase
    from tests.conftest import drop_schema, new_schema_name

    other_schema = new_schema_name()
    other = await PostgresDatabase.open(postgres.url, schema=other_schema)
    try:
        for database in (pg_db, other):
            await setup_projection(orders_projection(database))
        here = await pg_db.acquire("orders", 1, "here", ttl=10)
        there = await other.acquire("orders", 1, "there", ttl=10)
        assert here is not None
        assert there is not None, "a projection of the same name in another schema is free"
        await here.release()
        await there.release()
    finally:
        await other.close()
        await drop_schema(postgres.url, other_schema)


async def test_a_runner_asked_to_reach_a_position_returns_when_another_got_there(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """A catch-up whose runner finds the lease taken (a daemon started meanwhile) waits on
    standby only until the build reaches the position, not forever."""
    await place_orders(memory_store, 30)
    head = await memory_store.head()
    assert head is not None
    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=QUICK):
        await wait_for(projection, head, 10)
        standby = ProjectionRunner(memory_store, projection, settings=QUICK)
        await asyncio.wait_for(standby.run(until=head), 10)
        assert standby.state is RunnerState.STANDBY


async def test_a_retry_backoff_longer_than_the_lease_keeps_the_lease(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """Two daemons, a poison event, a backoff longer than the lease: the runner retrying
    renews its lease while it waits, so its attempts are counted to the end and the event
    is parked (another runner taking over would start them over, again and again)."""
    await place_orders(memory_store, 2)
    poisoned = {e.id async for e in memory_store.read_all() if e.type == "ItemAdded"}
    retry = HandlerRetry(max_attempts=3, backoff=0.5, max_backoff=0.5)
    projection = orders_projection(database, retry=retry, poison=lambda e: e.id in poisoned)
    settings = RunnerSettings(
        batch_size=10, poll_interval=0.05, lease_ttl=0.3, acquire_interval=0.05
    )
    first = ProjectionDaemon(memory_store, [projection], settings=settings)
    second = ProjectionDaemon(memory_store, [projection], settings=settings)
    async with first, second:
        await wait_for(projection, await memory_store.head() or Position(0, 0), 10)
    parked = await list_parked(projection)
    assert {p.event_id for p in parked} == poisoned
    assert {p.attempts for p in parked} == {3}
