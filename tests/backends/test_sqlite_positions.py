"""Positions on SQLite without AUTOINCREMENT (migration 0004), and the upgrade of stores
written by the schema before it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._backends.sqlite.appends import insert_rows, rows_of
from eventbook._backends.sqlite.schema import prepare_database
from eventbook._backends.sqlite.sql import migrations, queries
from eventbook._errors import ConcurrencyError
from eventbook._store.encoding import encode_batch
from eventbook._store.types import ANY, NO_STREAM, NewEvent, Position

BEFORE = 3
"""The last schema whose positions came from AUTOINCREMENT."""

Row = tuple[int, bytes, str, int, str, str]


def write_as_schema_3(path: Path, batches: list[tuple[str, list[NewEvent]]]) -> None:
    """Append `batches` the way eventbook did on schema 3: each in its own transaction, its
    positions starting one after AUTOINCREMENT's high-water mark in sqlite_sequence."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert prepare_database(connection, str(path), migrations()[:BEFORE]) == BEFORE
        for stream, events in batches:
            connection.execute("BEGIN IMMEDIATE")
            (seq,) = connection.execute(
                "SELECT coalesce((SELECT seq FROM sqlite_sequence"
                " WHERE name = 'eventbook_events'), 0)"
            ).fetchone()
            (version,) = connection.execute(queries().stream_version, (stream,)).fetchone()
            batch = encode_batch(stream, events, ANY)
            _, rows = rows_of(batch, version, seq + 1, datetime.now(UTC))
            insert_rows(connection, rows)
            connection.execute("COMMIT")
    finally:
        connection.close()


def stored_rows(path: Path) -> list[Row]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT position, id, stream, version, type, document FROM eventbook_events"
            " ORDER BY position"
        ).fetchall()


def new(n: int) -> NewEvent:
    return NewEvent("Happened", {"n": n, "total": 10.5 * n}, {"actor": f"a-{n}"})


async def test_a_store_of_schema_3_is_upgraded_and_every_event_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    batches = [(f"order-{n % 4}", [new(n), new(n + 100)]) for n in range(12)]
    batches.append(("gone-1", [new(900), new(901)]))  # the newest events, removed below
    write_as_schema_3(path, batches)
    with sqlite3.connect(path) as connection:
        # Removed as a hard delete did on schema 3: the high-water mark stays at 26.
        connection.execute("DELETE FROM eventbook_events WHERE stream = 'gone-1'")
        connection.execute("CREATE VIEW recent AS SELECT position, stream FROM eventbook_events")
    before = stored_rows(path)
    assert [row[0] for row in before] == list(range(1, 25))

    async with await SQLiteEventStore.open(path) as store:
        assert stored_rows(path) == before  # every row, byte for byte, at its position
        events = [e async for e in store.read_all()]
        written = [e for stream, batch in batches[:-1] for e in batch]
        assert [e.position for e in events] == [Position(0, n) for n in range(1, 25)]
        assert [e.id for e in events] == [e.id for e in written]
        assert [(e.data, e.metadata) for e in events] == [(e.data, e.metadata) for e in written]
        for stream in {s for s, _ in batches[:-1]}:
            mine = [e async for e in store.read_stream(stream)]
            assert [e.version for e in mine] == list(range(1, 7))
            assert mine == [e for e in events if e.stream == stream]
        assert await store.read_event(written[5].id) == events[5]

        # Removed positions stay used; an exact retry and a conflict are still told apart.
        result = await store.append("order-9", [new(1000)], expected=NO_STREAM)
        assert result.position == Position(0, 27)
        retried = await store.append("order-1", batches[1][1], expected=NO_STREAM)
        assert (retried.replayed, retried.version, retried.position) == (True, 2, Position(0, 4))
        with pytest.raises(ConcurrencyError):
            await store.append("order-1", [new(1001)], expected=1)
        ledger = await store._writer.call(
            lambda c: c.execute("SELECT max(version) FROM eventbook_migrations").fetchone()
        )
        assert ledger == (migrations()[-1].version,)
        legacy = await store._writer.call(
            lambda c: c.execute("PRAGMA legacy_alter_table").fetchone()
        )
        assert legacy == (0,)  # the migration's rename setting does not outlive it

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert (
            "AUTOINCREMENT"
            not in connection.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'eventbook_events'"
            ).fetchone()[0]
        )
        assert connection.execute("SELECT count(*) FROM recent").fetchone() == (25,)


async def test_appends_write_no_counter_and_removals_raise_the_floor(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with await SQLiteEventStore.open(path) as store:
        await store.append("p-1", [new(1), new(2)])
        await store.append("p-2", [new(3)])
        await store.tombstone_stream("p-2")  # removes position 3, appends a marker
        with sqlite3.connect(path) as connection:
            sequence = connection.execute(
                "SELECT count(*) FROM sqlite_sequence WHERE name = 'eventbook_events'"
            ).fetchone()
            assert sequence == (0,)  # nothing rewrites a counter row on every append
            assert connection.execute("SELECT position FROM eventbook_removed").fetchone() == (3,)
        marker = [e async for e in store.read_all()][-1]
        assert marker.position == Position(0, 4)
        assert (await store.append("p-3", [new(4)])).position == Position(0, 5)
