"""Inline projections on the real PostgreSQL event store: read models commit with the append."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from eventbook._backends.postgres import PostgresEventStore
from eventbook._store.types import NO_STREAM, NewEvent
from eventbook.projections import InlineProjectionError, InlineProjections, ProjectionDatabase
from tests.conftest import PostgresForTests
from tests.projections.models import model, orders_projection


@pytest_asyncio.fixture
async def store(
    postgres: PostgresForTests, postgres_schema: str
) -> AsyncIterator[PostgresEventStore]:
    async with await PostgresEventStore.open(postgres.store_url(postgres_schema)) as opened:
        yield opened


async def test_inline_projections_commit_inside_the_append(
    store: PostgresEventStore, pg_db: ProjectionDatabase
) -> None:
    projection = orders_projection(pg_db, poison=lambda e: e.data.get("amount") == 666)
    inline = InlineProjections([projection])
    await inline.setup()
    inline.attach(store)

    placed = [NewEvent("OrderPlaced", {"customer": "ada", "total": 10})]
    first = await store.append("order-1", placed, expected=NO_STREAM)
    assert (await model(pg_db))["orders"] == [("order-1", "ada", 10, "placed", 1)]
    retried = await store.append("order-1", placed, expected=NO_STREAM)  # a retry
    assert (retried.version, retried.position, retried.replayed) == (
        first.version,
        first.position,
        True,
    )
    assert (await model(pg_db))["applied"] == 1  # ...does not run the projection again

    poisoned = store.append("order-1", [NewEvent("ItemAdded", {"amount": 666})])
    healthy = store.append(
        "order-2",
        [
            NewEvent("OrderPlaced", {"customer": "bob", "total": 2}),
            NewEvent("ItemAdded", {"amount": 3}),
        ],
    )
    outcomes = await asyncio.gather(poisoned, healthy, return_exceptions=True)
    assert isinstance(outcomes[0], InlineProjectionError)
    assert not isinstance(outcomes[1], BaseException)
    assert await store.stream_version("order-1") == 1  # the failed append stored nothing
    assert await store.stream_version("order-2") == 2
    orders = (await model(pg_db))["orders"]
    assert [o[:3] for o in orders] == [("order-1", "ada", 10), ("order-2", "bob", 5)]
    with pytest.raises(InlineProjectionError, match="poisoned"):
        await store.append("order-1", [NewEvent("ItemAdded", {"amount": 666})])
    assert [e.type async for e in store.read_stream("order-1")] == ["OrderPlaced"]
