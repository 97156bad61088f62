"""PostgreSQL pages decoded as one JSON document per row read as the driver's rows do.

The read queries are wrapped so that the server writes each row as JSON (see
`as_documents.sql`); every field must come back as the plain rows give it: the time in
UTC to the microsecond whatever the session's time zone, numbers exact, text intact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest_asyncio

from eventbook import NewEvent, RecordedEvent
from eventbook._backends.postgres.connection import prepare_connection
from eventbook._backends.postgres.rows import recorded
from eventbook._backends.postgres.sql import Queries
from eventbook._backends.postgres.store import PostgresEventStore
from eventbook._store.types import Position
from tests.conftest import PostgresForTests, with_query


@pytest_asyncio.fixture
async def store(
    postgres: PostgresForTests, postgres_schema: str
) -> AsyncIterator[PostgresEventStore]:
    # A session time zone far from UTC: times must still come back in UTC.
    url = with_query(postgres.store_url(postgres_schema), TimeZone="Asia/Kathmandu")
    async with await PostgresEventStore.open(url) as opened:
        yield opened


DATA: list[dict[str, Any]] = [
    {"f": [0.1, 1e300, 1.5e16, -2.5e-7, 5e-324, 123456789.123456789], "i": 2**62},
    {"s": 'naïve "quoted" \\ back\nslash ☃ 𝄞', "nested": {"a": [None, True, False, {}]}},
    {"empty": [], "zero": 0.0, "neg": -17},
]


async def test_rows_read_as_documents_equal_the_drivers_rows(
    store: PostgresEventStore, postgres: PostgresForTests, postgres_schema: str
) -> None:
    when = datetime(2021, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=-7)))
    imported = [
        RecordedEvent(
            NewEvent("T", {}).id, "doc-1", 1, Position(0, 0), "T", DATA[0], {"k": 1}, when
        )
    ]
    await store.import_events(imported)
    await store.append("doc-1", [NewEvent("T", data, {"m": "x"}) for data in DATA[1:]])
    connection = await asyncpg.connect(postgres.url)
    try:
        await prepare_connection(connection)
        rows = await connection.fetch(
            Queries(postgres_schema).read_stream_forwards, "doc-1", 1, 100
        )
    finally:
        await connection.close()
    expected = recorded(rows)
    async with store._connections.connection("check the time zone") as session:
        assert await session.fetchval("SHOW TimeZone") == "Asia/Kathmandu"
    streamed = [e async for e in store.read_stream("doc-1")]
    backwards = [e async for e in store.read_stream("doc-1", backwards=True)]
    everything = [e async for e in store.read_all()]
    assert streamed == expected == everything == backwards[::-1]
    assert [e.data for e in streamed] == DATA
    assert streamed[0].recorded_at == when
    assert all(e.recorded_at.tzinfo == UTC for e in streamed + everything)
    assert all(e.recorded_at.utcoffset() == timedelta(0) for e in expected)
