"""PostgreSQL reads fetch data and metadata as one JSON text per row and parse a page's in
one call: whatever JSON an event holds must come back exactly, paired with its own event,
on every read path (and to append hooks, which read the appended rows back)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest_asyncio

from eventbook._backends.postgres import PostgresEventStore
from eventbook._backends.postgres.direct import Direct
from eventbook._store.types import NewEvent, RecordedEvent
from tests.conftest import PostgresForTests

AWKWARD: list[Any] = [
    "a,b",
    "],[",
    '"},{"',
    "\\",
    "é漢字🎉",
    "\n\t\x1e",
    "",
    [],
    {},
    [[], {}, None, True, False],
    -0.5,
    12345678901234567890,
]


def _data(n: int) -> dict[str, Any]:
    value = AWKWARD[n % len(AWKWARD)]
    return {"n": n, "value": value, "nested": {"list": [value, {"k": value}]}}


def _metadata(n: int) -> dict[str, Any]:
    return {} if n % 3 == 0 else {"m": AWKWARD[(n + 5) % len(AWKWARD)], "n": n}


def _events(count: int) -> list[NewEvent]:
    return [NewEvent("Odd", _data(n), _metadata(n)) for n in range(count)]


def _check(events: Sequence[RecordedEvent], numbers: Sequence[int]) -> None:
    assert [(e.data, e.metadata) for e in events] == [(_data(n), _metadata(n)) for n in numbers]


@pytest_asyncio.fixture
async def store(
    postgres: PostgresForTests, postgres_schema: str
) -> AsyncIterator[PostgresEventStore]:
    async with await PostgresEventStore.open(postgres.store_url(postgres_schema)) as opened:
        opened.read_page_size = 7  # several pages per read
        yield opened


async def test_every_read_path_returns_each_events_own_data(store: PostgresEventStore) -> None:
    await store.append("odd-1", _events(40))
    await store.append("even-1", [NewEvent("Even", {"x": 1}, {})])
    every = [e async for e in store.read_all()]
    _check(every[:40], range(40))
    assert (every[40].data, every[40].metadata) == ({"x": 1}, {})
    _check([e async for e in store.read_all(types=["Odd"])], range(40))
    _check([e async for e in store.read_all(categories=["odd"])], range(40))
    _check([e async for e in store.read_stream("odd-1")], range(40))
    _check([e async for e in store.read_stream("odd-1", backwards=True)], range(39, -1, -1))
    _check(await store.read_all_page(after=every[10].position, limit=5), range(11, 16))
    for n in (0, 1, 39):
        found = await store.read_event(every[n].id)
        assert found == every[n]
    assert await store.read_all_page(after=every[-1].position) == []


async def test_append_hooks_get_each_events_own_data(store: PostgresEventStore) -> None:
    seen: list[RecordedEvent] = []

    async def hook(connection: Direct, events: Sequence[RecordedEvent]) -> None:
        seen.extend(events)

    store.add_append_hook(hook)
    await store.append("odd-1", _events(12))
    _check(seen, range(12))
    assert seen == [e async for e in store.read_stream("odd-1")]
