"""A sink that goes away is waited for, not blamed: nothing parked, lost or applied twice.

A real Redis (the feed's sink) and a real PostgreSQL read-model database are each stopped
for about 10 s while events keep coming, then started again on the same port. The build
must wait (state WAITING, "waiting for <sink>"), keep its checkpoint where it was, and
then catch up with every event exactly once. Each projection's HandlerRetry allows only
two or three quick attempts, which an outage of this length once used up, parking events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from eventbook._backends.memory import MemoryEventStore
from eventbook.projections import (
    ProjectionDaemon,
    ProjectionState,
    RunnerSettings,
    SQLiteDatabase,
    list_parked,
    projection_status,
    wait_for,
)
from eventbook.projections._settings import RunnerState
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection
from tests.projections.test_redis import entries, feed
from tests.servers.redis import RedisServer

pytestmark = pytest.mark.slow

FAST = RunnerSettings(batch_size=10, poll_interval=0.05, lease_ttl=2.0, acquire_interval=0.05)
OUTAGE = 10.0


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which it stops and starts again."""
    with RedisServer() as server:
        yield server


async def until(check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


async def test_a_redis_outage_pauses_the_feed_and_parks_nothing(
    memory_store: MemoryEventStore, sqlite_db: SQLiteDatabase, private_redis: RedisServer
) -> None:
    client = Redis.from_url(private_redis.url())
    projection = feed(client, sqlite_db)
    await place_orders(memory_store, 10)
    try:
        async with ProjectionDaemon(memory_store, [projection], settings=FAST) as daemon:
            await wait_for(projection, await memory_store.head() or _never(), 10)
            before = await projection_status(memory_store, projection)
            assert before is not None
            await asyncio.to_thread(private_redis.stop_keeping_data)
            stopped = time.monotonic()
            await place_orders(memory_store, 10, start=10)  # events keep coming meanwhile

            async def waiting() -> bool:
                found = await projection_status(memory_store, projection)
                assert found is not None
                return found.state is ProjectionState.WAITING and found.waiting_for == "Redis"

            await until(waiting, OUTAGE)
            assert daemon.states()[projection.label] is RunnerState.WAITING
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
            during = await projection_status(memory_store, projection)
            assert during is not None
            assert during.state is ProjectionState.WAITING
            assert during.position == before.position  # the checkpoint stayed
            assert during.parked == 0
            await asyncio.to_thread(private_redis.start_again)
            await wait_for(projection, await memory_store.head() or _never(), 30)
            after = await projection_status(memory_store, projection)
            assert after is not None
            assert after.state is ProjectionState.LIVE
            assert after.waiting_for is None
        assert await list_parked(projection) == []
        placed = await entries(client, "feed:orders")
        assert len(placed) == 20 + 10  # OrderPlaced for 20 orders, OrderShipped for 10
        assert len({e[b"event_id"] for e in placed}) == len(placed)  # nothing twice
    finally:
        await client.aclose()


async def test_a_read_model_database_outage_pauses_the_build_and_parks_nothing(
    memory_store: MemoryEventStore, restartable_postgres: PostgresForTests
) -> None:
    from eventbook.projections.postgres import PostgresDatabase

    server = restartable_postgres.server
    assert server is not None
    schema = new_schema_name()
    database = await PostgresDatabase.open(restartable_postgres.url, schema=schema)
    projection = orders_projection(database)  # three quick attempts, then parked
    await place_orders(memory_store, 20)
    try:
        async with ProjectionDaemon(memory_store, [projection], settings=FAST) as daemon:
            await wait_for(projection, await memory_store.head() or _never(), 10)
            await asyncio.to_thread(server.stop, "fast")
            stopped = time.monotonic()
            try:
                await place_orders(memory_store, 20, start=20)

                async def waiting() -> bool:
                    return daemon.states()[projection.label] is RunnerState.WAITING

                await until(waiting, OUTAGE)
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                assert daemon.states()[projection.label] is RunnerState.WAITING
            finally:
                await asyncio.to_thread(server.start_again)
            await wait_for(projection, await memory_store.head() or _never(), 30)
            assert daemon.states()[projection.label] is RunnerState.LIVE
        assert await list_parked(projection) == []
        built = await model(database)
        assert built["applied"] == 40 * 2 + 20  # every event once
        assert built["duplicates"] == 0
        assert len(built["orders"]) == 40
    finally:
        await database.close()
        await drop_schema(restartable_postgres.url, schema)


def _never() -> object:
    raise AssertionError("the store is empty")
