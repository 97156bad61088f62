"""The read side on the real SQLite event store, read models in the store's own file."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._store.types import NewEvent
from eventbook.projections import (
    InlineProjectionError,
    InlineProjections,
    ProjectionDaemon,
    RunnerSettings,
    SQLiteDatabase,
    cli,
    wait_for,
)
from eventbook.projections.sqlite.sql import queries
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection
from tests.sqlite_steps import counting_steps

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteEventStore]:
    async with await SQLiteEventStore.open(tmp_path / "orders.db") as opened:
        yield opened


@pytest_asyncio.fixture
async def same_file(store: SQLiteEventStore) -> AsyncIterator[SQLiteDatabase]:
    database = await SQLiteDatabase.open(store.path)
    yield database
    await database.close()


async def test_a_daemon_follows_the_store_it_shares_a_file_with(
    store: SQLiteEventStore, same_file: SQLiteDatabase
) -> None:
    projection = orders_projection(same_file)
    await place_orders(store, 50, per_append=5)
    async with ProjectionDaemon(store, [projection], settings=RunnerSettings(batch_size=64)):
        head = await store.head()
        assert head is not None
        await wait_for(projection, head, 10)
        live = await store.append(
            "order-live", [NewEvent("OrderPlaced", {"customer": "x", "total": 1})]
        )
        await wait_for(projection, live, 5)
    built = await model(same_file)
    assert (built["applied"], built["duplicates"]) == (50 * 2 + 25 + 1, 0)


async def test_inline_projections_commit_inside_the_append(
    store: SQLiteEventStore, same_file: SQLiteDatabase
) -> None:
    projection = orders_projection(same_file, poison=lambda e: e.data.get("amount") == 666)
    inline = InlineProjections([projection])
    await inline.setup()
    inline.attach(store)
    await store.append("order-1", [NewEvent("OrderPlaced", {"customer": "ada", "total": 10})])
    assert (await model(same_file))["orders"] == [("order-1", "ada", 10, "placed", 1)]

    poisoned = store.append("order-1", [NewEvent("ItemAdded", {"amount": 666})])
    healthy = store.append("order-2", [NewEvent("OrderPlaced", {"customer": "bob", "total": 2})])
    outcomes = await asyncio.gather(poisoned, healthy, return_exceptions=True)
    assert isinstance(outcomes[0], InlineProjectionError)
    assert await store.stream_version("order-1") == 1  # the failed append stored nothing
    assert await store.stream_version("order-2") == 1  # its neighbour in the group did
    orders = (await model(same_file))["orders"]
    assert [o[:3] for o in orders] == [("order-1", "ada", 10), ("order-2", "bob", 2)]
    with pytest.raises(InlineProjectionError, match="poisoned"):
        await store.append("order-1", [NewEvent("ItemAdded", {"amount": 666})])


async def test_the_command_line_reports_status(store: SQLiteEventStore, tmp_path: Path) -> None:
    """`python -m eventbook.projections status module:build` prints each build's status."""
    import json
    import os
    import sys

    from tests.projections.crash_app import ledger_projection

    root = ROOT
    database = await SQLiteDatabase.open(store.path)
    try:
        projection = ledger_projection(database)
        for n in range(3):
            await store.append(f"acct-{n}", [NewEvent("Deposited", {"amount": n})])
        async with ProjectionDaemon(store, [projection]):
            await wait_for(projection, await store.head() or _never(), 5)
        await store.append("acct-9", [NewEvent("Deposited", {"amount": 9})])
    finally:
        await database.close()
    env = {
        **os.environ,
        "EVENTBOOK_TEST_READ_DB": f"sqlite:{store.path}",
        "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventbook.projections", "status",
        "tests.projections.crash_app:build", "--store", f"sqlite:///{store.path}",
        cwd=root, env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await child.communicate()
    assert child.returncode == 0
    (ledger,) = json.loads(output)
    assert (ledger["name"], ledger["state"], ledger["lag_events"], ledger["parked"]) == (
        "ledger",
        "stopped",
        1,
        0,
    )


def _never() -> object:
    raise AssertionError("the store is empty")


def test_finding_a_builds_halting_event_does_not_read_its_parked_events() -> None:
    """Every lease taken asks whether a parked event halts the build: with thousands of
    events parked (skipped), the question costs the same (counted in SQLite steps)."""

    def steps_with(parked: int) -> int:
        q = queries()
        connection = sqlite3.connect(":memory:")
        for statement in (q.create_checkpoints, q.create_parked, q.create_parked_status):
            connection.execute(statement)
        connection.executemany(
            q.park,
            [
                ("orders", 1, f"e-{n}", f"{n}", "s-1", "T", "boom", 3, 0.0, "parked", 0)
                for n in range(parked)
            ],
        )
        with counting_steps(connection) as halting:
            connection.execute(q.halted, ("orders", 1, 0)).fetchall()
        return halting.count

    assert steps_with(5_000) <= steps_with(10) + 20


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (["--log-level", "bogus"], 2, "invalid choice: 'BOGUS'"),
        (["--batch-size", "0"], 2, "batch_size must be at least 1"),
        (["--lease-ttl", "-1"], 2, "lease_ttl must be a number of seconds"),
        (["--target", "nosuch_module:build"], 1, "No module named 'nosuch_module'"),
        (["--target", "app"], 1, "expected 'package.module:function'"),
        (["--store", "bogus://x"], 1, "unknown event store URL scheme 'bogus'"),
    ],
)
def test_the_command_line_says_what_is_wrong_without_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    exit_code: int,
    message: str,
) -> None:
    target, store = "tests.projections.crash_app:build", f"sqlite:///{tmp_path}/x.db"
    options: list[str] = []
    for name, value in zip(arguments[::2], arguments[1::2], strict=True):
        if name == "--target":
            target = value
        elif name == "--store":
            store = value
        else:
            options += [name, value]
    try:
        code = cli.main(["status", target, "--store", store, *options])
    except SystemExit as exit:  # argparse's own errors
        code = int(exit.code or 0)
    err = capsys.readouterr().err
    assert code == exit_code
    assert message in err
    assert "Traceback" not in err
