"""The PostgreSQL store under load and through a server restart.

Sixteen writers in four processes append 20,000 events to 50 streams while two
subscribers follow the global order: each subscriber must end with exactly the committed
events, in one order, without a gap or a duplicate. Then a subscription rides out a
restart (an immediate shutdown: a crash) of the server in its middle.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import random
from collections import defaultdict

import pytest

from eventbook._backends.postgres import PostgresEventStore
from eventbook._connect import connect
from eventbook._errors import ConcurrencyError, UnavailableError
from eventbook._store.types import ANY, NewEvent, RecordedEvent
from tests.conftest import PostgresForTests, drop_schema, new_schema_name

PROCESSES, TASKS_PER_PROCESS, TOTAL_EVENTS, STREAMS = 4, 4, 20_000, 50
PER_TASK = TOTAL_EVENTS // (PROCESSES * TASKS_PER_PROCESS)

pytestmark = pytest.mark.slow


def _writer_process(url: str, process: int) -> list[str]:
    """Runs in a child process: four tasks append PER_TASK events each; their ids."""

    async def writer(store: PostgresEventStore, task: int) -> list[str]:
        rng = random.Random(process * 100 + task)
        written: list[str] = []
        while len(written) < PER_TASK:
            size = min(PER_TASK - len(written), rng.randint(1, 4))
            batch = [
                NewEvent("Stressed", {"by": f"{process}.{task}", "n": len(written) + n})
                for n in range(size)
            ]
            stream = f"stress-{rng.randrange(STREAMS)}"
            if rng.random() < 0.5:
                await store.append(stream, batch, expected=ANY)
            else:  # optimistic concurrency: look, append at that version, retry on conflict
                while True:
                    version = await store.stream_version(stream)
                    try:
                        await store.append(stream, batch, expected=version)
                        break
                    except ConcurrencyError:
                        continue
            written.extend(str(e.id) for e in batch)
        return written

    async def run() -> list[str]:
        store = await connect(url, pool_size=TASKS_PER_PROCESS)
        assert isinstance(store, PostgresEventStore)
        async with store:
            done = await asyncio.gather(*(writer(store, t) for t in range(TASKS_PER_PROCESS)))
        return [event_id for ids in done for event_id in ids]

    return asyncio.run(run())


async def follow(store: PostgresEventStore, count: int, into: list[RecordedEvent]) -> None:
    async for event in store.subscribe():
        into.append(event)
        if len(into) == count:
            return


def check_order(seen: list[RecordedEvent]) -> None:
    """Strictly increasing positions, and every stream's versions 1, 2, 3... in order."""
    assert all(a.position < b.position for a, b in itertools.pairwise(seen))
    versions: dict[str, list[int]] = defaultdict(list)
    for event in seen:
        versions[event.stream].append(event.version)
    for stream, found in versions.items():
        assert found == list(range(1, len(found) + 1)), stream


async def test_concurrent_writers_in_processes_and_two_subscribers(
    postgres: PostgresForTests, postgres_schema: str
) -> None:
    url = postgres.store_url(postgres_schema)
    async with (
        await PostgresEventStore.open(url) as first,
        await PostgresEventStore.open(url) as second,
    ):
        seen: tuple[list[RecordedEvent], list[RecordedEvent]] = ([], [])
        followers = [
            asyncio.create_task(follow(store, TOTAL_EVENTS, into))
            for store, into in zip((first, second), seen, strict=True)
        ]
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        with context.Pool(PROCESSES) as pool:
            jobs = [
                loop.run_in_executor(None, pool.apply, _writer_process, (url, p))
                for p in range(PROCESSES)
            ]
            written = [event_id for ids in await asyncio.gather(*jobs) for event_id in ids]
        await asyncio.wait_for(asyncio.gather(*followers), 120)
        await asyncio.sleep(0.3)  # an event delivered twice or late would arrive now
        stored = [e async for e in first.read_all()]

    assert len(written) == len(set(written)) == TOTAL_EVENTS
    assert len(stored) == TOTAL_EVENTS
    assert {str(e.id) for e in stored} == set(written)
    for subscriber in seen:
        assert [e.id for e in subscriber] == [e.id for e in stored]
    check_order(stored)
    assert len({e.stream for e in stored}) == STREAMS


async def test_a_subscription_survives_a_server_restart(
    restartable_postgres: PostgresForTests,
) -> None:
    server = restartable_postgres.server
    assert server is not None
    schema = new_schema_name()
    url = restartable_postgres.store_url(schema)
    batches, per_batch = 300, 2
    total = batches * per_batch
    written: list[str] = []
    seen: list[RecordedEvent] = []
    failures = 0

    async def write(store: PostgresEventStore) -> None:
        nonlocal failures
        versions: dict[str, int] = defaultdict(int)
        for n in range(batches):
            stream = f"restart-{n % 7}"
            batch = [NewEvent("Survived", {"n": n, "k": k}) for k in range(per_batch)]
            while True:  # a lost connection may or may not have committed: retry the same batch
                try:
                    result = await store.append(stream, batch, expected=versions[stream])
                    break
                except UnavailableError:
                    failures += 1
                    await asyncio.sleep(0.05)
            versions[stream] = result.version
            written.extend(str(e.id) for e in batch)
            await asyncio.sleep(0.002)

    async def restart_midway() -> None:
        for _ in range(3000):  # until a third of the events is seen
            if len(seen) >= total // 3:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.restart, "immediate")

    try:
        async with (
            await PostgresEventStore.open(url) as writer,
            await PostgresEventStore.open(url, poll_interval=0.2) as reader,
        ):
            following = asyncio.create_task(follow(reader, total, seen))
            restarting = asyncio.create_task(restart_midway())
            await write(writer)
            await restarting
            await asyncio.wait_for(following, 60)
            await asyncio.sleep(0.3)
            stored = [str(e.id) async for e in reader.read_all()]
    finally:
        await drop_schema(restartable_postgres.url, schema)

    assert failures > 0  # the writer did run into the restart
    # One writer appending in turn commits in order: the global order is the write order.
    assert [str(e.id) for e in seen] == written == stored
    check_order(seen)
