"""Readers follow a switch made by another process: SQL to SQL and SQL to Redis.

A reader polls a view while events arrive and `eventbook projections switch` runs in a
child process. Every read that starts after the switch has returned is answered by the
new build; the retired build stays frozen behind.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

import eventbook
from eventbook import NewEvent, ValidationError
from eventbook.projections import (
    ActiveView,
    NoActiveBuild,
    ProjectionDaemon,
    RunnerSettings,
    drop_build,
    setup_projection,
    switch_to,
    wait_for,
)
from eventbook.projections import open as open_database
from tests.conftest import PostgresForTests, drop_schema, new_schema_name, with_query
from tests.projections.view_app import NAME, RedisTally, SqlTally, builds

FAST = RunnerSettings(batch_size=50, poll_interval=0.05, lease_ttl=2.0)
ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def urls(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(event store URL, read-model database URL) on one engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/events.db", f"sqlite:///{tmp_path}/read.db"
        return
    postgres: PostgresForTests = request.getfixturevalue("postgres")
    events, read = new_schema_name(), new_schema_name()
    yield postgres.store_url(events), with_query(postgres.url, schema=read)
    await drop_schema(postgres.url, events)
    await drop_schema(postgres.url, read)


@pytest_asyncio.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def switch_in_another_process(store_url: str, read_url: str, target: str, redis: str) -> None:
    env = {
        **os.environ,
        "VIEW_TEST_READ_MODELS": read_url,
        "VIEW_TEST_TARGET": target,
        "VIEW_TEST_REDIS": redis,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventbook.cli", "projections", "switch", NAME, "--version", "2",
        "--app", "tests.projections.view_app:build", "--store", store_url, "--timeout", "60",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await child.communicate()
    assert child.returncode == 0, output.decode()


@pytest.mark.parametrize("target", ["sql", "redis"])
async def test_a_reader_polling_through_a_switch_sees_only_the_active_build(
    urls: tuple[str, str], target: str, redis: Redis, redis_url: str
) -> None:
    store_url, read_url = urls
    store = await eventbook.connect(store_url)
    database = await open_database(read_url)
    v1, v2 = builds(database, target, redis)
    second: Any = SqlTally(database, 2) if target == "sql" else RedisTally(v2.sink, 2)
    view = ActiveView(database, NAME, {1: SqlTally(database, 1), 2: second})
    await setup_projection(v1)  # the first build is the active one
    await setup_projection(v2)
    switched, stop = asyncio.Event(), asyncio.Event()
    answers: list[tuple[bool, tuple[int, int]]] = []
    appended = 0

    async def write() -> None:
        nonlocal appended
        while not stop.is_set():
            await store.append(f"counter-{appended % 7}", [NewEvent("Counted", {})])
            appended += 1
            await asyncio.sleep(0.005)

    async def poll() -> None:
        while not stop.is_set():
            started_after = switched.is_set()
            answers.append((started_after, await view.read(lambda tally: tally.get())))
            await asyncio.sleep(0.001)

    try:
        async with ProjectionDaemon(store, [v1, v2], settings=FAST):
            tasks = [asyncio.create_task(write()), asyncio.create_task(poll())]
            await asyncio.sleep(0.5)
            await switch_in_another_process(store_url, read_url, target, redis_url)
            switched.set()
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*tasks)
            head = await store.head()
            assert head is not None
            await wait_for(v2, head, 10)
            final = await view.read(lambda tally: tally.get())
        before = [answer for after, answer in answers if not after]
        after = [answer for started_after, answer in answers if started_after]
        assert {build for build, _ in before} >= {1}
        assert after, "no read after the switch"
        assert {build for build, _ in after} == {2}
        # Served by the live build: its answers keep growing after the switch ...
        counts = [events for _, events in after]
        assert counts == sorted(counts)
        assert counts[-1] > counts[0]
        assert final == (2, appended)
        # ... while the retired build stays where the switch left it.
        frozen = await SqlTally(database, 1).get()
        assert frozen[1] < appended
    finally:
        await database.close()
        await store.close()


async def test_a_view_names_what_it_cannot_read(tmp_path: Path) -> None:
    database = await open_database(f"sqlite:///{tmp_path}/read.db")
    try:
        (v1, _v2) = builds(database, "sql", None)
        only_v2 = ActiveView(database, NAME, {2: SqlTally(database, 2)})
        with pytest.raises(NoActiveBuild, match="no build of 'tally' is active"):
            await only_v2.read(lambda tally: tally.get())
        await setup_projection(v1)
        with pytest.raises(NoActiveBuild, match="v1 is active, but this view reads only v2"):
            await only_v2.read(lambda tally: tally.get())
        with pytest.raises(ValidationError, match="at least one build"):
            ActiveView(database, NAME, {})
        with pytest.raises(ValidationError, match="max_age"):
            ActiveView(database, NAME, {1: SqlTally(database, 1)}, max_age=-1)
    finally:
        await database.close()


async def test_a_cached_view_sees_a_switch_within_max_age(tmp_path: Path) -> None:
    store = await eventbook.connect(f"sqlite:///{tmp_path}/events.db")
    database = await open_database(f"sqlite:///{tmp_path}/read.db")
    other = await open_database(f"sqlite:///{tmp_path}/read.db")  # the switching process
    try:
        v1, v2 = builds(database, "sql", None)
        _, v2_elsewhere = builds(other, "sql", None)
        readers = {1: SqlTally(database, 1), 2: SqlTally(database, 2)}
        cached = ActiveView(database, NAME, readers, max_age=0.2)
        await setup_projection(v1)
        await setup_projection(v2)
        assert await cached.version() == 1
        await switch_to(store, v2_elsewhere)
        assert await cached.version() == 1  # within max_age: the cached answer
        await asyncio.sleep(0.25)
        assert await cached.version() == 2
        assert await ActiveView(database, NAME, readers).version() == 2
    finally:
        await other.close()
        await database.close()
        await store.close()


async def test_a_read_whose_build_is_dropped_under_it_is_served_by_the_new_one(
    tmp_path: Path,
) -> None:
    """The lookup said v1; before the query ran, v1 was switched away from and dropped."""
    store = await eventbook.connect(f"sqlite:///{tmp_path}/events.db")
    database = await open_database(f"sqlite:///{tmp_path}/read.db")
    try:
        v1, v2 = builds(database, "sql", None)
        await setup_projection(v1)
        await setup_projection(v2)
        await store.append("counter-1", [NewEvent("Counted", {})])
        async with ProjectionDaemon(store, [v1, v2], settings=FAST):
            head = await store.head()
            assert head is not None
            await wait_for(v1, head, 10)
            await wait_for(v2, head, 10)

        class DroppedMeanwhile(SqlTally):
            async def get(self) -> tuple[int, int]:
                await switch_to(store, v2)
                await drop_build(v1)
                return await super().get()  # its table is gone

        view = ActiveView(
            database, NAME, {1: DroppedMeanwhile(database, 1), 2: SqlTally(database, 2)}
        )
        assert await view.read(lambda tally: tally.get()) == (2, 1)
        # An error of the build that is still active is the caller's to see.
        broken = ActiveView(database, NAME, {2: SqlTally(database, 1)})
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await broken.read(lambda tally: tally.get())
    finally:
        await database.close()
        await store.close()
