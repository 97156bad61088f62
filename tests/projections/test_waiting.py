"""`wait_for` refuses at once a position its store could never reach, on every backend."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbook import Position, ValidationError, connect
from eventbook._store.port import EventStore
from eventbook.projections import ProjectionDaemon, SQLiteDatabase, wait_for
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.projections.conftest import place_orders
from tests.projections.models import orders_projection


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param != "postgresql":
        url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"
        async with await connect(url) as opened:
            yield opened
        return
    postgres: PostgresForTests = request.getfixturevalue("postgres")
    schema = new_schema_name()
    async with await connect(postgres.store_url(schema)) as opened:
        yield opened
    await drop_schema(postgres.url, schema)


def foreign(position: Position) -> Position:
    """A position of the other shape: with a first part on single-sequence stores,
    without one on PostgreSQL."""
    return Position(0, position.minor) if position.major else Position(97, position.minor)


async def test_a_position_of_another_shape_is_refused_at_once(
    store: EventStore, tmp_path: Path
) -> None:
    database = await SQLiteDatabase.open(tmp_path / "read.db")
    projection = orders_projection(database)
    await place_orders(store, 3)
    head = await store.head()
    assert head is not None
    try:
        async with ProjectionDaemon(store, [projection]):
            await wait_for(projection, head, 10, store=store)
            for given_store in (store, None):  # checked by the store, else by the checkpoint
                started = time.monotonic()
                with pytest.raises(ValidationError, match="cannot come from"):
                    await wait_for(projection, foreign(head), 5, store=given_store)
                assert time.monotonic() - started < 1
            with pytest.raises(ValidationError, match="must be a Position"):
                await wait_for(projection, str(head), 5, store=store)  # type: ignore[arg-type]
    finally:
        await database.close()
