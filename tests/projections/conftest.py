"""Fixtures of the read-side tests: stores, projection databases, a Redis server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent
from eventbook.projections import ProjectionDatabase, SQLiteDatabase
from tests.conftest import PostgresForTests


@pytest_asyncio.fixture
async def memory_store() -> AsyncIterator[MemoryEventStore]:
    async with MemoryEventStore() as store:
        yield store


@pytest_asyncio.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    database = await SQLiteDatabase.open(tmp_path / "read.db")
    yield database
    await database.close()


@pytest_asyncio.fixture
async def pg_db(
    postgres: PostgresForTests, postgres_schema: str
) -> AsyncIterator[ProjectionDatabase]:
    from eventbook.projections.postgres import PostgresDatabase

    database = await PostgresDatabase.open(postgres.url, schema=postgres_schema)
    yield database
    await database.close()


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ProjectionDatabase]:
    """Each projection database engine in turn (a real SQLite file, a real PostgreSQL)."""
    if request.param == "sqlite":
        opened = await SQLiteDatabase.open(tmp_path / "read.db")
        yield opened
        await opened.close()
        return
    from eventbook.projections.postgres import PostgresDatabase
    from tests.conftest import drop_schema, new_schema_name

    postgres: PostgresForTests = request.getfixturevalue("postgres")
    schema = new_schema_name()
    database = await PostgresDatabase.open(postgres.url, schema=schema)
    yield database
    await database.close()
    await drop_schema(postgres.url, schema)


async def place_orders(
    store: EventStore, count: int, *, start: int = 0, per_append: int = 1
) -> None:
    """`count` orders, each OrderPlaced + ItemAdded (+ OrderShipped for even numbers)."""
    for n in range(start, start + count, per_append):
        for m in range(n, min(n + per_append, start + count)):
            events = [
                NewEvent("OrderPlaced", {"customer": f"c{m % 7}", "total": m}),
                NewEvent("ItemAdded", {"amount": 3}),
            ]
            if m % 2 == 0:
                events.append(NewEvent("OrderShipped", {}))
            await store.append(f"order-{m}", events)
