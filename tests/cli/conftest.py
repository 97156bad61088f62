"""Stores for the CLI tests: a SQLite file and a PostgreSQL schema, seeded alike."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventbook import NewEvent, connect
from tests.conftest import PostgresForTests, drop_schema, new_schema_name


async def seed(url: str) -> None:
    store = await connect(url)
    try:
        for n in range(6):
            await store.append(f"account-{n % 2}", [NewEvent("Deposited", {"amount": n + 1})])
        await store.append("account-9", [NewEvent("Deposited", {"amount": -1})])
        await store.append("user-1", [NewEvent("Joined", {"name": "Ada"})])
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A seeded store: 8 events, streams account-0, account-1, account-9, user-1."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/events.db"
        asyncio.run(seed(url))
        yield url
        return
    server: PostgresForTests = request.getfixturevalue("postgres")
    schema = new_schema_name()
    url = server.store_url(schema)
    asyncio.run(seed(url))
    yield url
    asyncio.run(drop_schema(server.url, schema))


@pytest.fixture
def read_db(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The projections' database beside `store_url`: a SQLite file for a SQLite store, a
    fresh schema of the same PostgreSQL server for a PostgreSQL one (CLI_TEST_READ_DB)."""
    if store_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/read.db"
        monkeypatch.setenv("CLI_TEST_READ_DB", url)
        yield url
        return
    server_url = store_url.split("?", 1)[0]
    schema = new_schema_name()
    url = f"{server_url}?schema={schema}"
    monkeypatch.setenv("CLI_TEST_READ_DB", url)
    yield url
    asyncio.run(drop_schema(server_url, schema))
