"""The Redis key-value sink against a real redis-server: exactly once under replay, fenced,
two builds side by side, a build's keys dropped in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from eventbook import ValidationError
from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    HandlerRetry,
    LeaseLost,
    Projection,
    ProjectionDaemon,
    RunnerSettings,
    SQLiteDatabase,
    drop_build,
    list_parked,
    rebuild,
    retry_parked,
    setup_projection,
    switch_to,
    wait_for,
)
from eventbook.projections.sinks.redis_values import RedisValueSink, ValueBatch

FAST = RunnerSettings(batch_size=40, poll_interval=0.05, lease_ttl=2.0)


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def accounts(
    client: Redis, database: SQLiteDatabase, *, version: int = 1, broken: set[Any] | None = None
) -> Projection[ValueBatch]:
    """A hash per account with a running balance (not idempotent by itself: `hincrby`),
    and a JSON value per account with its last deposit."""
    sink = RedisValueSink(client, checkpoints=database, namespace="accounts")
    handlers: HandlerMap[ValueBatch] = HandlerMap()

    @handlers.on("Opened")
    def opened(event: RecordedEvent, batch: ValueBatch) -> None:
        batch.hset(event, event.stream, {"owner": event.data["owner"], "balance": 0})
        batch.hsetnx(event, event.stream, "opened_by", event.data["owner"])

    @handlers.on("Deposited")
    def deposited(event: RecordedEvent, batch: ValueBatch) -> None:
        if broken is not None and event.id in broken:
            raise RuntimeError("cannot apply this deposit")
        batch.hincrby(event, event.stream, "balance", event.data["amount"])
        batch.set_json(event, f"{event.stream}:last", {"amount": event.data["amount"]})

    @handlers.on("Renamed")
    def renamed(event: RecordedEvent, batch: ValueBatch) -> None:
        batch.hset(event, event.stream, {"owner": event.data["owner"]})
        batch.hsetnx(event, event.stream, "opened_by", "never written: the field is there")
        batch.hdel(event, event.stream, "nickname")

    @handlers.on("Closed")
    def closed(event: RecordedEvent, batch: ValueBatch) -> None:
        batch.delete(event, event.stream)
        batch.delete(event, f"{event.stream}:last")

    retry = HandlerRetry(max_attempts=2, backoff=0.01)
    return Projection("accounts", sink, handlers, version=version, retry=retry)


async def open_accounts(store: MemoryEventStore, count: int, deposits: int = 3) -> None:
    for n in range(count):
        events = [NewEvent("Opened", {"owner": f"owner {n}"})]
        events += [NewEvent("Deposited", {"amount": 10 + d}) for d in range(deposits)]
        await store.append(f"account-{n}", events)


async def caught_up(store: MemoryEventStore, *projections: Projection[Any]) -> None:
    async with ProjectionDaemon(store, list(projections), settings=FAST):
        for projection in projections:
            await wait_for(projection, await store.head() or Position(0, 0), 5)


def sink_of(projection: Projection[ValueBatch]) -> RedisValueSink:
    assert isinstance(projection.sink, RedisValueSink)
    return projection.sink


async def test_hashes_and_json_values_follow_the_events(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = accounts(redis, sqlite_db)
    sink = sink_of(projection)
    await open_accounts(memory_store, 3)
    await memory_store.append("account-1", [NewEvent("Renamed", {"owner": "ada"})])
    await memory_store.append("account-2", [NewEvent("Closed", {})])
    await caught_up(memory_store, projection)
    assert await sink.hgetall(1, "account-0") == {
        "owner": "owner 0",
        "balance": "33",
        "opened_by": "owner 0",
    }
    assert await sink.hgetall(1, "account-1") == {
        "owner": "ada",
        "balance": "33",
        "opened_by": "owner 1",
    }
    assert await sink.get_json(1, "account-0:last") == {"amount": 12}
    assert await sink.hgetall(1, "account-2") == {}
    assert await sink.get_json(1, "account-2:last") is None
    assert await redis.exists("accounts:v1:account-0") == 1


async def test_a_replay_after_a_crash_applies_each_write_once(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    """A crash after the Redis script and before the checkpoint replays the batch: the
    running balances (increments) must not count a deposit twice."""
    projection = accounts(redis, sqlite_db)
    await open_accounts(memory_store, 10)
    await caught_up(memory_store, projection)
    # Put the checkpoint back, as if the last commits had never happened.
    events = [e async for e in memory_store.read_all()]
    back = str(events[9].position)
    await sqlite_db._admin.run(
        lambda c: c.execute("UPDATE eventbook_projection_checkpoints SET position = ?", (back,))
    )
    for n in range(10):  # and new events arrive meanwhile
        await memory_store.append(f"account-{n}", [NewEvent("Deposited", {"amount": 1})])
    await caught_up(memory_store, projection)
    sink = sink_of(projection)
    for n in range(10):
        fields = await sink.hgetall(1, f"account-{n}")
        assert fields["balance"] == "34", n  # 10 + 11 + 12 + 1, each once


async def test_a_runner_fenced_by_a_newer_lease_cannot_write(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = accounts(redis, sqlite_db)
    sink = sink_of(projection)
    await setup_projection(projection)
    await open_accounts(memory_store, 1)
    first, second = [e async for e in memory_store.read_all()][:2]
    newer = ValueBatch(epoch=5, version=1, out_of_order=False)
    newer.hincrby(second, "account-0", "balance", 1)
    await sink.flush(newer)
    stale = ValueBatch(epoch=4, version=1, out_of_order=False)
    stale.hincrby(first, "account-0", "balance", 100)
    with pytest.raises(LeaseLost):
        await sink.flush(stale)
    assert await sink.hgetall(1, "account-0") == {"balance": "1"}


async def test_a_parked_event_retried_out_of_order_is_applied_once(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    broken: set[Any] = set()
    projection = accounts(redis, sqlite_db, broken=broken)
    sink = sink_of(projection)
    await open_accounts(memory_store, 2)
    events = [e async for e in memory_store.read_all()]
    broken.add(events[1].id)  # account-0's first deposit, 10
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
        (parked,) = await list_parked(projection)
        assert (await sink.hgetall(1, "account-0"))["balance"] == "23"
        broken.clear()
        await retry_parked(memory_store, projection, parked.event_id)
    assert (await sink.hgetall(1, "account-0"))["balance"] == "33"
    # The same dead letter retried again (its parked row survived a crash) adds nothing.
    late = ValueBatch(epoch=0, version=1, out_of_order=True)
    late.hincrby(events[1], "account-0", "balance", 10)
    await sink.flush(late)
    assert (await sink.hgetall(1, "account-0"))["balance"] == "33"


async def test_two_builds_live_side_by_side_and_drop_removes_only_its_keys(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    """More keys than one UNLINK batch, so the drop pages through SCAN."""
    v1, v2 = accounts(redis, sqlite_db), accounts(redis, sqlite_db, version=2)
    await open_accounts(memory_store, 700, deposits=1)
    await caught_up(memory_store, v1, v2)
    assert len([k async for k in redis.scan_iter(match="accounts:v1:*")]) == 1400
    assert len([k async for k in redis.scan_iter(match="accounts:v2:*")]) == 1400
    await switch_to(memory_store, v2)
    await drop_build(v1)
    assert [k async for k in redis.scan_iter(match="accounts:v1:*")] == []
    assert len([k async for k in redis.scan_iter(match="accounts:v2:*")]) == 1400
    assert (await sink_of(v2).hgetall(2, "account-699"))["balance"] == "10"
    assert await sqlite_db.checkpoint("accounts", 1) is None


async def test_a_rebuild_clears_and_replays_the_build(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = accounts(redis, sqlite_db)
    sink = sink_of(projection)
    await open_accounts(memory_store, 5)
    await rebuild(memory_store, projection, settings=FAST)
    await redis.hset("accounts:v1:stray", "left", "by an earlier build")
    await rebuild(memory_store, projection, settings=FAST)
    assert (await sink.hgetall(1, "account-4"))["balance"] == "33"
    assert await sink.hgetall(1, "stray") == {}


async def test_bad_input_is_refused_with_a_reason(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    client = redis
    with pytest.raises(ValidationError, match="namespace"):
        RedisValueSink(client, checkpoints=sqlite_db, namespace="orders:*")
    batch = ValueBatch(epoch=1, version=1, out_of_order=False)
    await open_accounts(memory_store, 1)
    (event, *_) = [e async for e in memory_store.read_all()]
    with pytest.raises(ValidationError, match="non-empty string"):
        batch.hset(event, "", {"f": 1})
    with pytest.raises(ValidationError, match="whole number"):
        batch.hincrby(event, "k", "f", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least one field"):
        batch.hset(event, "k", {})
    with pytest.raises(ValidationError, match="at least one field"):
        batch.hdel(event, "k")
