"""The Redis Streams sink against a real redis-server: capped, idempotent, fenced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

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
    list_parked,
    rebuild,
    retry_parked,
    setup_projection,
    wait_for,
)
from eventbook.projections.sinks.redis_streams import RedisStreamSink, StreamBatch

FAST = RunnerSettings(batch_size=40, poll_interval=0.05, lease_ttl=2.0)


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def feed(
    client: Redis,
    database: SQLiteDatabase,
    *,
    maxlen: int = 100_000,
    broken: set[Any] | None = None,
) -> Projection[StreamBatch]:
    sink = RedisStreamSink(
        client, checkpoints=database, prefix="feed:", maxlen=maxlen, exact_trim=True
    )
    handlers: HandlerMap[StreamBatch] = HandlerMap()

    @handlers.on("OrderPlaced", "OrderShipped")
    def entry(event: RecordedEvent, batch: StreamBatch) -> None:
        if broken is not None and event.id in broken:
            raise RuntimeError("cannot render this event")
        batch.add(event, "orders", {"type": event.type, "order": event.stream})
        if event.type == "OrderShipped":
            batch.add(event, "shipping", {"order": event.stream})

    retry = HandlerRetry(max_attempts=2, backoff=0.01)
    return Projection("feed", sink, handlers, retry=retry)


async def place(store: MemoryEventStore, count: int) -> None:
    for n in range(count):
        await store.append(
            f"order-{n}", [NewEvent("OrderPlaced", {}), NewEvent("OrderShipped", {})]
        )


async def entries(client: Redis, key: str) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in await client.xrange(key)]


async def test_entries_reach_the_streams_once_each(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = feed(redis, sqlite_db)
    await place(memory_store, 50)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    orders = await entries(redis, "feed:orders")
    assert len(orders) == 100
    assert len({e[b"event_id"] for e in orders}) == 100
    assert orders[0] == {
        b"event_id": orders[0][b"event_id"],
        b"type": b"OrderPlaced",
        b"order": b"order-0",
    }
    assert len(await entries(redis, "feed:shipping")) == 50


async def test_a_replayed_batch_adds_nothing(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    """A crash after the Redis write and before the checkpoint replays the batch."""
    projection = feed(redis, sqlite_db)
    await place(memory_store, 30)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    # Put the checkpoint back, as if the last commits had never happened.
    events = [e async for e in memory_store.read_all()]
    back = str(events[9].position)
    await sqlite_db._admin.run(
        lambda c: c.execute("UPDATE eventbook_projection_checkpoints SET position = ?", (back,))
    )
    await place(memory_store, 5)  # and new events arrive meanwhile
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    orders = await entries(redis, "feed:orders")
    assert len(orders) == 70
    assert len({e[b"event_id"] for e in orders}) == 70


async def test_streams_are_capped(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = feed(redis, sqlite_db, maxlen=25)
    await place(memory_store, 60)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
    orders = await entries(redis, "feed:orders")
    assert len(orders) == 25
    assert orders[-1][b"order"] == b"order-59"


async def test_a_runner_fenced_by_a_newer_lease_cannot_write(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = feed(redis, sqlite_db)
    await setup_projection(projection)
    await place(memory_store, 2)
    first, second = [e async for e in memory_store.read_all()][:2]
    sink = projection.sink
    newer = StreamBatch(epoch=5, version=1, out_of_order=False)
    newer.add(second, "orders", {"n": 2})
    await sink.flush(newer)
    stale = StreamBatch(epoch=4, version=1, out_of_order=False)
    stale.add(first, "orders", {"n": 1})
    with pytest.raises(LeaseLost):
        await sink.flush(stale)
    assert len(await entries(redis, "feed:orders")) == 1


async def test_a_rebuild_clears_and_replays_the_feed(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    projection = feed(redis, sqlite_db)
    await place(memory_store, 20)
    await rebuild(memory_store, projection, settings=FAST)
    first = await entries(redis, "feed:orders")
    await rebuild(memory_store, projection, settings=FAST)
    again = await entries(redis, "feed:orders")
    assert len(first) == len(again) == 40
    assert [e[b"event_id"] for e in again] == [e[b"event_id"] for e in first]


async def test_a_parked_event_retried_out_of_order_is_added_once(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, redis: Redis
) -> None:
    broken: set[Any] = set()
    projection = feed(redis, sqlite_db, broken=broken)
    await place(memory_store, 10)
    events = [e async for e in memory_store.read_all()]
    broken.add(events[4].id)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or Position(0, 0), 5)
        (parked,) = await list_parked(projection)
        assert len(await entries(redis, "feed:orders")) == 19
        broken.clear()
        await retry_parked(memory_store, projection, parked.event_id)
    orders = await entries(redis, "feed:orders")
    assert len(orders) == 20
    assert orders[-1][b"event_id"] == str(parked.event_id).encode()
    # The same dead letter retried again (say the parked row survived a crash) adds nothing.
    late = StreamBatch(epoch=0, version=1, out_of_order=True)
    late.add(events[4], "orders", {"type": "OrderPlaced", "order": "order-2"})
    await projection.sink.flush(late)
    assert len(await entries(redis, "feed:orders")) == 20
