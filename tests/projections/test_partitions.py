"""Partitioned projections in one process: assignment, checkpoints, sharing, migration."""

from __future__ import annotations

import asyncio
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import pytest

from eventbook._backends.memory import MemoryEventStore
from eventbook._errors import LeaseLost, PartitionMismatch, ValidationError
from eventbook._store.types import Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionRunner,
    ProjectionState,
    ProjectionTimeout,
    RunnerSettings,
    SqlBatch,
    SQLiteDatabase,
    catch_up,
    drop_build,
    rebuild,
    setup_projection,
    status,
    switch_to,
    wait_for,
)
from eventbook.projections._ports import CheckpointMove
from tests.conftest import PostgresForTests
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection

FAST = RunnerSettings(lease_ttl=1.0, poll_interval=0.05, acquire_interval=0.05, batch_size=7)


def test_partition_of_is_a_stable_hash_of_the_stream(sqlite_path: Path) -> None:
    projection = orders_projection(SQLiteDatabase(sqlite_path), partitions=5)
    event = _event("order-42")
    # CRC-32: the same in every process and Python release (hash() is salted per process).
    assert projection.partition_of(event) == zlib.crc32(b"order-42") % 5
    keyed = Projection(
        "keyed",
        projection.sink,
        projection.handlers,
        partitions=3,
        partition_key=lambda e: e.data["customer"],
    )
    assert keyed.partition_of(event) == zlib.crc32(b"ada") % 3
    assert orders_projection(SQLiteDatabase(sqlite_path)).partition_of(event) == 0


@pytest.mark.parametrize("count", [0, -1, 257, True, 2.0])
def test_a_partition_count_out_of_range_is_refused(sqlite_path: Path, count: Any) -> None:
    with pytest.raises(ValidationError, match="partitions must be"):
        orders_projection(SQLiteDatabase(sqlite_path), partitions=count)


async def test_each_partition_has_its_own_checkpoint_and_per_stream_order_holds(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 60)
    seen: list[tuple[str, int]] = []
    # Builds of two names, so that each has its own tables (orders_v1, orders_v2).
    partitioned = _recording(orders_projection(database, name="parted", partitions=4), seen)
    single = orders_projection(database, name="single", version=2)
    await catch_up(memory_store, partitioned, settings=FAST, timeout=60)
    await catch_up(memory_store, single, timeout=60)

    rows = await database.partitions("parted", 1)
    head = await memory_store.head()
    assert [row.partition for row in rows] == [0, 1, 2, 3]
    assert all(row.position == head for row in rows)
    assert await model(database, 1) == await model(database, 2)
    assert (await model(database, 1))["applied"] == 60 * 2 + 30
    by_stream: dict[str, list[int]] = {}
    for stream, version in seen:
        by_stream.setdefault(stream, []).append(version)
    assert all(versions == sorted(versions) for versions in by_stream.values())


async def test_a_build_cannot_change_its_partition_count(
    database: ProjectionDatabase,
) -> None:
    await setup_projection(orders_projection(database, partitions=3))
    with pytest.raises(PartitionMismatch, match="has 3 partition"):
        await setup_projection(orders_projection(database, partitions=2))


async def test_two_daemons_share_the_partitions_and_one_takes_all_when_the_other_stops(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database, partitions=4)
    first = ProjectionDaemon(memory_store, [projection], settings=FAST)
    second = ProjectionDaemon(memory_store, [projection], settings=FAST)
    async with first:
        await _until(lambda: _holders(database), lambda held: held == {first.owner: 4})
        async with second:  # a newcomer: the first hands back two partitions
            await _until(
                lambda: _holders(database), lambda held: held == {first.owner: 2, second.owner: 2}
            )
            await place_orders(memory_store, 40)
            await wait_for(projection, await _head(memory_store), 20)
        await _until(lambda: _holders(database), lambda held: held == {first.owner: 4})
        await place_orders(memory_store, 10, start=40)
        await wait_for(projection, await _head(memory_store), 20)
    got = await model(database)
    assert (got["applied"], got["duplicates"]) == (50 * 2 + 25, 0)


async def test_a_partition_held_by_a_vanished_host_is_taken_once_its_lease_expires(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database, partitions=3)
    await setup_projection(projection)
    await place_orders(memory_store, 30)
    # A daemon on another host took partition 1 and vanished (no release, no heartbeat;
    # on PostgreSQL its connection stays open until closed here, as a hung host's would).
    vanished = await database.acquire("orders", 1, "elsewhere:1:gone", 1.5, partition=1)
    assert vanished is not None
    async with ProjectionDaemon(memory_store, [projection], settings=FAST) as daemon:
        await _until(lambda: _holders(database), lambda held: held.get(daemon.owner) == 2)
        row = await database.checkpoint("orders", 1, partition=1)
        assert row is not None
        assert row.position is None  # still the vanished holder's
        if database.dialect == "postgresql":
            await vanished.release()  # the server drops a dead client's lock with its session
        await _until(lambda: _holders(database), lambda held: held == {daemon.owner: 3})
        await wait_for(projection, await _head(memory_store), 20)
        if database.dialect == "sqlite":  # (PostgreSQL: its session is gone altogether)
            with pytest.raises(LeaseLost):  # fenced: it cannot commit a batch of partition 1
                await vanished.commit(None, CheckpointMove(None, await _head(memory_store)))
    await vanished.release()
    got = await model(database)
    assert (got["applied"], got["duplicates"]) == (30 * 2 + 15, 0)


async def test_status_and_metrics_show_each_partition_and_the_worst_as_the_builds(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    from eventbook.observability import Observability

    obs = Observability()
    [projection] = obs.projections([orders_projection(database, partitions=3)])
    await place_orders(memory_store, 30)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST) as daemon:
        await wait_for(projection, await _head(memory_store), 20)
        await _until(lambda: _holders(database), lambda held: sum(held.values()) == 3)
        found = await obs.collect(memory_store, [projection], runner_states=daemon.states())
    [live] = found
    assert [p.partition for p in live.partitions] == [0, 1, 2]
    assert all(p.lag_events == 0 and p.state is ProjectionState.LIVE for p in live.partitions)
    registry = obs.registry
    for partition in ("0", "1", "2"):
        labels = {"projection": "orders", "version": "1", "partition": partition}
        assert registry.get_sample_value("eventbook_projection_partition_lag_events", labels) == 0
        held = registry.get_sample_value("eventbook_projection_partition_lease_held", labels)
        assert held == 1

    await place_orders(memory_store, 20, start=30)  # no daemon runs now
    [stopped] = await status(memory_store, [projection])
    lags = [p.lag_events for p in stopped.partitions]
    assert sum(lags) == 20 * 2 + 10
    assert stopped.lag_events == max(lags) > 0
    assert stopped.lag_seconds == max(p.lag_seconds for p in stopped.partitions)
    assert stopped.state is ProjectionState.STOPPED
    reached = [Position.parse(p.position) for p in stopped.partitions if p.position]
    assert stopped.position == str(min(reached))
    assert stopped.as_dict()["partitions"][0]["state"] == "stopped"


async def test_a_partitioned_build_rebuilds_under_a_running_daemon(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database, partitions=3)
    await place_orders(memory_store, 40)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await _head(memory_store), 20)
        before = await model(database)
        epochs = [row.epoch for row in await database.partitions("orders", 1)]
        await rebuild(memory_store, projection, timeout=30)  # the daemon's runners replay
        assert await model(database) == before
        rows = await database.partitions("orders", 1)
        assert all(row.epoch > epoch for row, epoch in zip(rows, epochs, strict=True))
        head = await memory_store.head()
        assert all(row.position == head for row in rows)
    assert before["duplicates"] == 0


async def test_blue_green_switches_to_a_partitioned_build_once_every_partition_caught_up(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    blue = orders_projection(database)
    green = orders_projection(database, version=2, partitions=4)
    await place_orders(memory_store, 30)
    await catch_up(memory_store, blue, timeout=30)
    await setup_projection(green)
    head = await _head(memory_store)
    # Three partitions of four caught up: the switch waits for the fourth, in vain.
    for partition in range(3):
        runner = ProjectionRunner(memory_store, green, settings=FAST, partition=partition)
        await runner.run(until=head)
    with pytest.raises(ProjectionTimeout):
        await switch_to(memory_store, green, timeout=0.5)
    assert (await database.checkpoint("orders", 1) or _missing()).active
    await catch_up(memory_store, green, settings=FAST, timeout=30)
    await switch_to(memory_store, green, timeout=5)
    rows = await database.partitions("orders", 2)
    assert all(row.active for row in rows)
    assert (await database.checkpoint("orders", 1) or _missing()).retired
    assert await model(database) == await model(database, 1)  # readers see green, the same
    await drop_build(blue)
    assert await database.partitions("orders", 1) == []
    # And back the other way: a new unpartitioned build replaces the partitioned one.
    third = orders_projection(database, version=3)
    await catch_up(memory_store, third, timeout=30)
    await switch_to(memory_store, third, timeout=5)
    assert all(row.retired for row in await database.partitions("orders", 2))
    await drop_build(green)
    assert await database.partitions("orders", 2) == []
    assert await model(database) == await model(database, 3)


async def test_tables_set_up_before_partitions_are_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE eventbook_projection_checkpoints (
            name TEXT NOT NULL, version INTEGER NOT NULL, mode TEXT NOT NULL DEFAULT 'async',
            position TEXT, epoch INTEGER NOT NULL DEFAULT 0, owner TEXT,
            lease_until REAL NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 0,
            retired INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_error_at REAL,
            updated_at REAL, PRIMARY KEY (name, version));
        CREATE TABLE eventbook_projection_parked (
            name TEXT NOT NULL, version INTEGER NOT NULL, event_id TEXT NOT NULL,
            position TEXT NOT NULL, stream TEXT NOT NULL, type TEXT NOT NULL,
            error TEXT NOT NULL, attempts INTEGER NOT NULL, parked_at REAL NOT NULL,
            status TEXT NOT NULL, PRIMARY KEY (name, version, event_id));
        INSERT INTO eventbook_projection_checkpoints (name, version, position, epoch, active)
        VALUES ('orders', 1, '17', 4, 1);
        """
    )
    old.close()
    database = await SQLiteDatabase.open(path)
    try:
        row = await database.checkpoint("orders", 1)
        assert row is not None
        assert (row.partition, str(row.position), row.epoch, row.active) == (0, "17", 4, True)
        assert await database.parked("orders", 1) == []
        await database.setup()  # again: nothing to migrate
        assert len(await database.partitions("orders", 1)) == 1
    finally:
        await database.close()


async def test_postgres_tables_set_up_before_partitions_are_migrated(
    postgres: PostgresForTests, postgres_schema: str
) -> None:
    import asyncpg

    from eventbook.projections.postgres import PostgresDatabase

    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {postgres_schema}")
        await conn.execute(f"SET search_path = {postgres_schema}")
        await conn.execute(
            """
            CREATE TABLE eventbook_projection_checkpoints (
                name TEXT NOT NULL, version BIGINT NOT NULL, mode TEXT NOT NULL DEFAULT 'async',
                position TEXT, epoch BIGINT NOT NULL DEFAULT 0, owner TEXT,
                lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
                active BOOLEAN NOT NULL DEFAULT false, retired BOOLEAN NOT NULL DEFAULT false,
                last_error TEXT, last_error_at DOUBLE PRECISION, updated_at DOUBLE PRECISION,
                PRIMARY KEY (name, version));
            CREATE TABLE eventbook_projection_parked (
                name TEXT NOT NULL, version BIGINT NOT NULL, event_id TEXT NOT NULL,
                position TEXT NOT NULL, stream TEXT NOT NULL, type TEXT NOT NULL,
                error TEXT NOT NULL, attempts BIGINT NOT NULL,
                parked_at DOUBLE PRECISION NOT NULL, status TEXT NOT NULL,
                PRIMARY KEY (name, version, event_id));
            INSERT INTO eventbook_projection_checkpoints (name, version, position, epoch, active)
            VALUES ('orders', 1, '5:17', 4, true);
            """
        )
    finally:
        await conn.close()
    database = await PostgresDatabase.open(postgres.url, schema=postgres_schema)
    try:
        row = await database.checkpoint("orders", 1)
        assert row is not None
        assert (row.partition, str(row.position), row.epoch, row.active) == (0, "5:17", 4, True)
        await database.setup()  # again: nothing to migrate
        await setup_projection(orders_projection(database, version=2, partitions=3))
        assert len(await database.partitions("orders", 2)) == 3
    finally:
        await database.close()


# -- helpers ---------------------------------------------------------------------------------


def _event(stream: str) -> RecordedEvent:
    from datetime import UTC, datetime
    from uuid import uuid4

    return RecordedEvent(
        uuid4(), stream, 1, Position(0, 1), "OrderPlaced", {"customer": "ada"}, {},
        datetime.now(UTC),
    )  # fmt: skip


def _recording(
    projection: Projection[SqlBatch], seen: list[tuple[str, int]]
) -> Projection[SqlBatch]:
    handlers: HandlerMap[SqlBatch] = HandlerMap()
    for event_type, handler in projection.handlers.items():

        def record(event: RecordedEvent, batch: SqlBatch, handler: Any = handler) -> Any:
            seen.append((event.stream, event.version))
            return handler(event, batch)

        handlers[event_type] = record
    return Projection(projection.name, projection.sink, handlers, partitions=projection.partitions)


async def _holders(database: ProjectionDatabase) -> dict[str, int]:
    import time

    held: dict[str, int] = {}
    for row in await database.partitions("orders", 1):
        if row.owner is not None and row.lease_until > time.time():
            held[row.owner] = held.get(row.owner, 0) + 1
    return held


async def _until(read: Any, check: Any, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check(value := await read()):
        assert asyncio.get_running_loop().time() < deadline, f"still {value}"
        await asyncio.sleep(0.05)


async def _head(store: MemoryEventStore) -> Any:
    head = await store.head()
    assert head is not None
    return head


def _missing() -> Any:
    raise AssertionError("no such build")


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "read.db"
