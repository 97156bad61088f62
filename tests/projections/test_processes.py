"""Daemons as real processes: kill -9 at random moments, SIGTERM, two daemons racing.

Each test appends 20,000 events to a real store, then runs
`python -m eventbook.projections run tests.projections.crash_app:build` against it.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventbook._connect import connect
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent, Position
from eventbook.projections import ProjectionDatabase, catch_up
from tests.conftest import PostgresForTests
from tests.projections.crash_app import ledger_projection, open_database

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20_000
PER_APPEND = 10


@pytest.fixture(scope="module")
def filled_postgres_store(postgres: PostgresForTests) -> Iterator[str]:
    """A PostgreSQL store with 20,000 deposits, shared by this module's tests (read only)."""
    from tests.conftest import drop_schema, new_schema_name

    schema = new_schema_name()
    url = postgres.store_url(schema)
    asyncio.run(fill(url))
    yield url
    asyncio.run(drop_schema(postgres.url, schema))


@pytest.fixture(scope="module")
def filled_sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store file with the same 20,000 deposits; each test works on a copy."""
    path = tmp_path_factory.mktemp("store") / "events.db"
    asyncio.run(fill(f"sqlite:///{path}"))
    return path


async def fill(url: str) -> None:
    store = await connect(url)
    chance = random.Random(7)
    try:
        for start in range(0, EVENTS // PER_APPEND, 50):
            await asyncio.gather(
                *(
                    store.append(
                        f"acct-{n}",
                        [
                            NewEvent("Deposited", {"amount": chance.randint(1, 100)})
                            for _ in range(PER_APPEND)
                        ],
                    )
                    for n in range(start, start + 50)
                )
            )
    finally:
        await store.close()


@pytest.fixture(params=["postgresql+postgresql", "postgresql+sqlite", "sqlite+same-file"])
def places(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresForTests
) -> tuple[str, str]:
    """(store URL, read-model database) for each pairing the daemon must survive."""
    if request.param == "sqlite+same-file":
        copy = tmp_path / "events.db"
        shutil.copyfile(request.getfixturevalue("filled_sqlite_store"), copy)
        return f"sqlite:///{copy}", f"sqlite:{copy}"
    store_url = request.getfixturevalue("filled_postgres_store")
    if request.param == "postgresql+sqlite":
        return store_url, f"sqlite:{tmp_path / 'read.db'}"
    from tests.conftest import new_schema_name

    return store_url, f"postgresql:{new_schema_name()}:{postgres.url}"


class Daemon:
    """`python -m eventbook.projections run ...` as a child process, logging to a file."""

    def __init__(
        self,
        store_url: str,
        read_db: str,
        log: Path,
        batch_size: int = 10,
        partitions: int = 1,
    ) -> None:
        # This checkout's sources first, as in the parent (not an installed eventbook).
        path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
        env = {
            **os.environ,
            "EVENTBOOK_TEST_READ_DB": read_db,
            "EVENTBOOK_TEST_PARTITIONS": str(partitions),
            "PYTHONPATH": path,
        }
        command = [
            sys.executable, "-m", "eventbook.projections", "run",
            "tests.projections.crash_app:build", "--store", store_url,
            "--batch-size", str(batch_size), "--lease-ttl", "2", "--poll-interval", "0.2",
            "--log-level", "INFO",
        ]  # fmt: skip
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=sink)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def ready(self, seconds: float = 30) -> None:
        """Wait until the daemon runs its projections (it logs so at INFO)."""
        deadline = time.monotonic() + seconds
        while " running 1 projection" not in await asyncio.to_thread(self.tail):
            assert self.process.poll() is None, f"the daemon exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"the daemon did not start:\n{self.tail()}"
            await asyncio.sleep(0.02)


async def applied(database: ProjectionDatabase) -> int:
    try:
        rows = await database.fetch("SELECT count(*) FROM ledger_applied")
    except Exception:  # not created yet
        return 0
    return int(rows[0][0])


async def until_progress(
    database: ProjectionDatabase, beyond: int, daemon: Daemon, seconds: float = 30
) -> int:
    deadline = time.monotonic() + seconds
    while (count := await applied(database)) <= beyond:
        if daemon.process.poll() is not None:
            raise AssertionError(
                f"the daemon exited ({daemon.process.returncode}):\n{daemon.tail()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"no progress beyond {beyond} events:\n{daemon.tail()}")
        await asyncio.sleep(0.005)
    return count


async def ledger_model(database: ProjectionDatabase, name: str = "ledger") -> dict[str, Any]:
    ids = [r[0] for r in await database.fetch(f"SELECT event_id FROM {name}_applied")]
    balances = await database.fetch(f"SELECT account, total FROM {name}_balances ORDER BY account")
    return {
        "applied": len(ids),
        "distinct": len(set(ids)),
        "balances": [tuple(r) for r in balances],
    }


async def from_scratch(store: EventStore, database: ProjectionDatabase) -> dict[str, Any]:
    """The same projection built by an uninterrupted in-process run, in other tables."""
    fresh = ledger_projection(database, name="fresh")
    await catch_up(store, fresh, timeout=120)
    return await ledger_model(database, "fresh")


async def test_kill_9_during_catch_up_neither_loses_nor_repeats_an_effect(
    places: tuple[str, str], tmp_path: Path
) -> None:
    filled_store_url, read_db_spec = places
    database = open_database(read_db_spec)
    await database.setup()
    chance = random.Random()
    log = tmp_path / "daemons.log"
    kills = 0
    try:
        while kills < 10:
            daemon = Daemon(filled_store_url, read_db_spec, log)
            seen = await until_progress(database, await applied(database), daemon)
            await asyncio.sleep(chance.uniform(0, 0.03))
            daemon.kill()
            after = await applied(database)
            assert after < EVENTS, f"catch-up finished after {kills} kills; the test needs 10"
            kills += 1
            assert after >= seen
        daemon = Daemon(filled_store_url, read_db_spec, log, batch_size=500)
        await until_progress(database, EVENTS - 1, daemon, seconds=60)
        assert daemon.terminate() == 0, daemon.tail()
        store = await connect(filled_store_url)
        try:
            expected = await from_scratch(store, database)
        finally:
            await store.close()
        got = await ledger_model(database)
        assert got == expected
        assert (got["applied"], got["distinct"]) == (EVENTS, EVENTS)
    finally:
        await database.close()


async def test_sigterm_finishes_the_batch_in_flight_and_releases_the_lease(
    places: tuple[str, str], tmp_path: Path
) -> None:
    filled_store_url, read_db_spec = places
    database = open_database(read_db_spec)
    await database.setup()
    try:
        daemon = Daemon(filled_store_url, read_db_spec, tmp_path / "daemon.log")
        await until_progress(database, 100, daemon)
        assert daemon.terminate() == 0, daemon.tail()
        row = await database.checkpoint("ledger", 1)
        assert row is not None
        assert row.owner is None  # released: a successor need not wait for expiry
        count = await applied(database)
        assert 100 < count < EVENTS
        # The checkpoint and the model agree: nothing half-done was committed.
        logged = await database.fetch("SELECT position FROM ledger_applied")
        newest = max((Position.parse(r[0]) for r in logged), default=None)
        assert row.position == newest
    finally:
        await database.close()


async def test_two_daemon_processes_racing_apply_each_event_once(
    places: tuple[str, str], tmp_path: Path
) -> None:
    filled_store_url, read_db_spec = places
    database = open_database(read_db_spec)
    await database.setup()
    try:
        first = Daemon(filled_store_url, read_db_spec, tmp_path / "first.log", batch_size=100)
        second = Daemon(filled_store_url, read_db_spec, tmp_path / "second.log", batch_size=100)
        await until_progress(database, 3000, first)
        first.kill()  # the second takes over, whichever of them was running
        third = Daemon(filled_store_url, read_db_spec, tmp_path / "third.log", batch_size=100)
        await until_progress(database, EVENTS - 1, second, seconds=60)
        await third.ready()
        assert second.terminate() == 0, second.tail()
        assert third.terminate() == 0, third.tail()
        got = await ledger_model(database)
        assert (got["applied"], got["distinct"]) == (EVENTS, EVENTS)
    finally:
        await database.close()
