"""The key stores beside real SQLite and PostgreSQL stores, in the stores' own schema."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import eventbook
from eventbook import EventRegistry
from eventbook.personal import (
    FORGOTTEN,
    Keyring,
    KeyStore,
    MasterKey,
    PersonalDataStage,
    StoredKey,
    open_key_store,
)
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.personal.events import Counted, Registered, registered

MASTER = MasterKey(b"m" * 32)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
    else:
        postgres: PostgresForTests = request.getfixturevalue("postgres")
        schema = new_schema_name()
        yield postgres.store_url(schema)
        await drop_schema(postgres.url, schema)


async def test_rows_are_added_once_and_forgetting_leaves_a_tombstone(store_url: str) -> None:
    store = await eventbook.connect(store_url)
    keys = await open_key_store(store_url)
    try:
        first = await keys.add("c-1", StoredKey(b"one", "f1"))
        assert await keys.add("c-1", StoredKey(b"two", "f1")) == first == StoredKey(b"one", "f1")
        assert await keys.fetch(["c-1", "c-2"]) == {"c-1": first}
        assert await keys.forget("c-1") is True
        assert await keys.forget("c-1") is False
        assert await keys.forget("never") is False  # a tombstone all the same
        found = await keys.fetch(["c-1", "never"])
        assert {s: row.wrapped for s, row in found.items()} == {"c-1": None, "never": None}
        assert await keys.add("c-1", StoredKey(b"three", "f1")) == found["c-1"]
    finally:
        await keys.close()
        await store.close()


async def test_forgetting_in_one_process_shows_in_another(store_url: str) -> None:
    if store_url == "memory://":
        pytest.skip("a memory store lives in one process")
    store = await eventbook.connect(store_url)
    writer_keys, reader_keys = await open_key_store(store_url), await open_key_store(store_url)
    try:
        writer = _registry(writer_keys)
        await store.append("c-1", await writer.serialise("c-1", [registered(), Counted(2)]))
        stored = [e async for e in store.read_stream("c-1")]
        assert (await _registry(reader_keys).deserialise(stored))[0] == registered()
        await Keyring(writer_keys, MASTER).forget("c-1")
        typed = await _registry(reader_keys).deserialise(stored)
        assert typed[0].name == FORGOTTEN
        assert typed[1] == Counted(2)
    finally:
        await writer_keys.close()
        await reader_keys.close()
        await store.close()


async def test_sqlite_overwrites_a_forgotten_key_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = await eventbook.connect(f"sqlite:///{path}")
    keys = await open_key_store(f"sqlite:///{path}")
    marker = b"WRAPPED-KEY-BYTES-" * 4
    await keys.add("c-1", StoredKey(marker, "f1"))
    await keys.forget("c-1")
    await keys.close()
    await store.close()
    for name in ("events.db", "events.db-wal"):
        file = tmp_path / name
        assert not file.exists() or marker[:18] not in file.read_bytes(), name


async def test_a_database_without_an_event_store_gets_the_table(tmp_path: Path) -> None:
    path = tmp_path / "read-models.db"
    sqlite3.connect(path).close()
    keys = await open_key_store(f"sqlite:///{path}")
    assert await keys.add("c-1", StoredKey(b"k", "f")) == StoredKey(b"k", "f")
    await keys.close()
    store = await eventbook.connect(f"sqlite:///{path}")  # migrating finds the table there
    await store.close()
    again = await open_key_store(f"sqlite:///{path}")
    assert await again.fetch(["c-1"]) == {"c-1": StoredKey(b"k", "f")}
    await again.close()


async def test_a_postgres_schema_without_an_event_store_gets_the_table(
    postgres: PostgresForTests,
) -> None:
    schema = new_schema_name()
    try:
        keys = await open_key_store(postgres.store_url(schema))
        await keys.add("c-1", StoredKey(b"k", "f"))
        await keys.close()
        store = await eventbook.connect(postgres.store_url(schema))
        await store.close()
        again = await open_key_store(postgres.store_url(schema))
        assert await again.fetch(["c-1"]) == {"c-1": StoredKey(b"k", "f")}
        await again.close()
    finally:
        await drop_schema(postgres.url, schema)


def _registry(keys: KeyStore) -> EventRegistry:
    stage = PersonalDataStage(Keyring(keys, MASTER), [Registered, Counted])
    return EventRegistry([Registered, Counted], stages=[stage])
