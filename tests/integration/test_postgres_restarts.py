"""The PostgreSQL store through repeated server restarts under writers and subscribers.

Four writers append while two subscribers (each with its own store, polling only every
30 s, so they depend on wake-ups) follow the global order, and the server is restarted
six times, alternating fast and immediate shutdowns. Every failure a writer sees must be
an `UnavailableError`, no background task may die, and after each restart a new event
must reach both subscribers within the usual latency: the wake-up connection came back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from eventbook._backends.postgres import PostgresEventStore
from eventbook._errors import UnavailableError
from eventbook._store.types import NewEvent, RecordedEvent
from tests.conftest import PostgresForTests, drop_schema, new_schema_name

pytestmark = pytest.mark.slow

WRITERS, RESTARTS = 4, 6
WAKE_UP_WITHIN = 5.0  # seconds: reconnect backoff (at most 2 s) plus a NOTIFY


async def test_restarts_under_writers_and_subscribers_surface_only_unavailable(  # noqa: PLR0915 (one scenario, told in order)
    restartable_postgres: PostgresForTests,
) -> None:
    server = restartable_postgres.server
    assert server is not None
    schema = new_schema_name()
    url = restartable_postgres.store_url(schema)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    raw_errors: list[BaseException] = []
    written: list[str] = []
    unavailable = 0
    stop = asyncio.Event()

    async def append(store: PostgresEventStore, stream: str, batch: list[NewEvent]) -> None:
        # A lost connection may or may not have committed: retry the same batch, whose
        # event ids the store recognises.
        nonlocal unavailable
        while True:
            try:
                await store.append(stream, batch)
                written.extend(str(e.id) for e in batch)
                return
            except UnavailableError:
                unavailable += 1
                await asyncio.sleep(0.05)
            except Exception as error:
                raw_errors.append(error)
                await asyncio.sleep(0.05)

    async def writer(store: PostgresEventStore, number: int) -> None:
        n = 0
        while not stop.is_set():
            await append(store, f"w{number}-{n % 5}", [NewEvent("Written", {"n": n})])
            n += 1
            await asyncio.sleep(0.005)

    async def follow(store: PostgresEventStore, into: list[RecordedEvent], ids: set[str]) -> None:
        async for event in store.subscribe():
            into.append(event)
            ids.add(str(event.id))

    async def seen_by_both(event_id: str) -> float:
        started = time.monotonic()
        while not all(event_id in ids for ids in seen_ids):
            assert time.monotonic() - started < WAKE_UP_WITHIN, "no wake-up after a restart"
            await asyncio.sleep(0.01)
        return time.monotonic() - started

    seen: tuple[list[RecordedEvent], list[RecordedEvent]] = ([], [])
    seen_ids: tuple[set[str], set[str]] = (set(), set())
    try:
        async with (
            await PostgresEventStore.open(url, pool_size=WRITERS) as store,
            await PostgresEventStore.open(url, poll_interval=30) as first,
            await PostgresEventStore.open(url, poll_interval=30) as second,
        ):
            followers = [
                asyncio.create_task(follow(s, into, ids))
                for s, into, ids in zip((first, second), seen, seen_ids, strict=True)
            ]
            writers = [asyncio.create_task(writer(store, w)) for w in range(WRITERS)]
            latencies = []
            for restart in range(RESTARTS):
                await asyncio.sleep(0.7)
                mode = "fast" if restart % 2 == 0 else "immediate"
                await asyncio.to_thread(server.restart, mode)
                probe = NewEvent("Probe", {"after_restart": restart})
                await append(store, "probe-1", [probe])
                latencies.append(await seen_by_both(str(probe.id)))
            stop.set()
            await asyncio.gather(*writers)
            stored = [str(e.id) async for e in first.read_all()]
            await seen_by_both(stored[-1])
            await asyncio.sleep(0.3)  # an event delivered twice would arrive now
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    finally:
        loop.set_exception_handler(None)
        await drop_schema(restartable_postgres.url, schema)

    assert raw_errors == []
    assert unhandled == []
    assert unavailable > 0  # the writers did run into the restarts
    assert sorted(written) == sorted(stored)
    for subscriber in seen:
        assert [str(e.id) for e in subscriber] == stored  # everything, once, in order
    assert max(latencies) < WAKE_UP_WITHIN
