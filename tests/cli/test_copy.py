"""`eventbook copy`: SQLite -> PostgreSQL -> SQLite keeps every event exactly, in order,
and a copy killed with SIGKILL and run again ends equal, with nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from eventbook import EventStore, RecordedEvent, connect
from eventbook._store.ids import uuid7
from eventbook._store.types import Position
from eventbook.cli import app
from tests.conftest import PostgresForTests

STREAMS = 1000


def history(count: int) -> list[RecordedEvent]:
    """`count` events interleaved over many streams, with distinct times and metadata."""
    start = datetime(2021, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    return [
        RecordedEvent(
            uuid7(),
            f"c{n % STREAMS % 7}-{n % STREAMS}",
            n // STREAMS + 1,
            Position(0, n + 1),
            f"Type{n % 5}",
            {"n": n, "f": n / 3, "s": "é" * (n % 4)},
            {"by": f"user-{n % 11}"} if n % 2 else {},
            start + timedelta(microseconds=n * 1001),
        )
        for n in range(count)
    ]


async def seeded(url: str, count: int) -> None:
    store = await connect(url)
    events = history(count)
    for start in range(0, count, 5000):
        await store.import_events(events[start : start + 5000])
    await store.close()


def kept(event: RecordedEvent) -> tuple[object, ...]:
    return (
        event.id,
        event.stream,
        event.version,
        event.type,
        event.data,
        event.metadata,
        event.recorded_at,
    )


async def everything(url: str) -> list[tuple[object, ...]]:
    store: EventStore = await connect(url)
    try:
        return [kept(e) async for e in store.read_all()]
    finally:
        await store.close()


def copy(source: str, destination: str) -> None:
    result = CliRunner().invoke(app, ["copy", source, destination, "--json"])
    assert result.exit_code == 0, result.output


def test_sqlite_to_postgres_to_sqlite_keeps_100000_events_exactly(
    tmp_path: Path, postgres: PostgresForTests, postgres_schema: str
) -> None:
    first, last = f"sqlite:///{tmp_path}/first.db", f"sqlite:///{tmp_path}/last.db"
    middle = postgres.store_url(postgres_schema)
    asyncio.run(seeded(first, 100_000))
    copy(first, middle)
    copy(middle, last)
    original = asyncio.run(everything(first))
    assert len(original) == 100_000
    assert asyncio.run(everything(middle)) == original
    assert asyncio.run(everything(last)) == original
    copy(first, middle)  # again: nothing left to copy, nothing twice
    assert len(asyncio.run(everything(middle))) == 100_000


def test_a_copy_killed_halfway_resumes_with_nothing_twice(
    tmp_path: Path, postgres: PostgresForTests, postgres_schema: str
) -> None:
    """30,000 events (smaller than the full copy test, to stay quick)."""
    source = f"sqlite:///{tmp_path}/source.db"
    destination = postgres.store_url(postgres_schema)
    asyncio.run(seeded(source, 30_000))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-m", "eventbook.cli", "copy", source, destination, "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    copied = 0
    while time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
        try:
            copied = len(asyncio.run(everything(destination)))
        except Exception:  # the schema is being created
            continue
        if copied >= 3000:
            break
    assert child.poll() is None, "the copy finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = asyncio.run(everything(destination))
    assert 0 < len(partial) < 30_000
    copy(source, destination)
    original = asyncio.run(everything(source))
    assert asyncio.run(everything(destination)) == original
