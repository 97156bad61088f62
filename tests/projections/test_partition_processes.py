"""A partitioned projection shared by daemon processes: SIGKILL one mid catch-up, start
another; the read model equals a single runner's, and no event is applied twice.

The store holds 20,000 deposits over 2,000 accounts (streams); the ledger projection has
six partitions and logs every event it applies (no unique key, so a repeat would show).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from pathlib import Path

import pytest

from eventbook._connect import connect
from eventbook.projections import ProjectionDatabase
from tests.conftest import PostgresForTests
from tests.projections.crash_app import open_database
from tests.projections.test_processes import (
    EVENTS,
    Daemon,
    applied,
    filled_postgres_store,
    filled_sqlite_store,
    from_scratch,
    ledger_model,
    until_progress,
)

__all__ = ["filled_postgres_store", "filled_sqlite_store"]  # fixtures used by name

PARTITIONS = 6


@pytest.fixture(params=["postgresql", "sqlite"])
def places(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresForTests
) -> tuple[str, str]:
    """(store URL, read-model database): PostgreSQL for both, or one SQLite file."""
    if request.param == "sqlite":
        copy = tmp_path / "events.db"
        shutil.copyfile(request.getfixturevalue("filled_sqlite_store"), copy)
        return f"sqlite:///{copy}", f"sqlite:{copy}"
    from tests.conftest import new_schema_name

    store_url = request.getfixturevalue("filled_postgres_store")
    return store_url, f"postgresql:{new_schema_name()}:{postgres.url}"


async def holders(database: ProjectionDatabase) -> dict[str, int]:
    """How many partitions each live owner holds now."""
    held: dict[str, int] = {}
    for row in await database.partitions("ledger", 1):
        if row.owner is not None and row.lease_until > time.time():
            held[row.owner] = held.get(row.owner, 0) + 1
    return held


async def test_three_daemons_share_the_partitions_and_survive_a_kill(
    places: tuple[str, str], tmp_path: Path
) -> None:
    store_url, read_db = places
    database = open_database(read_db)
    await database.setup()
    # Batches small enough that catch-up lasts through the kill (SQLite runs faster).
    batch_size = 100 if read_db.startswith("postgresql") else 20

    def start(name: str) -> Daemon:
        log = tmp_path / f"{name}.log"
        return Daemon(store_url, read_db, log, batch_size=batch_size, partitions=PARTITIONS)

    daemons = {name: start(name) for name in ("first", "second", "third")}
    try:
        await until_progress(database, 2000, daemons["first"], seconds=40)
        # All three share: none holds more than its quota, ceil(6 / 3) = 2.
        deadline = time.monotonic() + 20
        while sorted((await holders(database)).values()) != [2, 2, 2]:
            assert time.monotonic() < deadline, f"not shared: {await holders(database)}"
            await asyncio.sleep(0.05)
        before = await applied(database)
        assert before < EVENTS, "catch-up ended before the kill; the test needs it midway"
        daemons["second"].kill()  # SIGKILL mid catch-up: its two partitions hang on leases
        daemons["fourth"] = start("fourth")
        await until_progress(database, EVENTS - 1, daemons["first"], seconds=60)
        await asyncio.sleep(0.5)  # anything applied twice would land by now
        live = [d for name, d in daemons.items() if name != "second"]
        quota = math.ceil(PARTITIONS / len(live))
        assert max((await holders(database)).values()) <= quota
        for daemon in live:
            assert daemon.terminate() == 0, daemon.tail()
        store = await connect(store_url)
        try:
            expected = await from_scratch(store, database)  # one runner, unpartitioned
        finally:
            await store.close()
        got = await ledger_model(database)
        assert got == expected
        assert (got["applied"], got["distinct"]) == (EVENTS, EVENTS)
        assert await database.parked("ledger", 1) == []
        rows = await database.partitions("ledger", 1)
        assert len(rows) == PARTITIONS
        # Every survivor released its leases. The killed daemon's rows may still name it:
        # if its partitions had caught up before the kill, nobody needed to take them over.
        killed = f":{daemons['second'].process.pid}:"
        assert all(row.owner is None or killed in row.owner for row in rows), rows
    finally:
        for daemon in daemons.values():
            if daemon.process.poll() is None:
                daemon.kill()
        await database.close()
