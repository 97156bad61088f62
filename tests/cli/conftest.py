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
