"""The port's default `import_events` path (check every stream, then `_append` each run),
on every backend: it is what a backend without an import of its own gets, and it relies
on `_append` keeping `EncodedEvent.recorded_at`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbook import EventStore, ValidationError, connect
from eventbook.testing.importing import copied
from tests.conftest import PostgresForTests


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgres"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_schema: str
) -> AsyncIterator[EventStore]:
    if request.param == "postgres":
        server: PostgresForTests = request.getfixturevalue("postgres")
        url = server.store_url(postgres_schema)
    else:
        url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path}/events.db"}[request.param]
    opened = await connect(url)
    # The instance uses the port's own `_import` instead of its backend's.
    opened._import = EventStore._import.__get__(opened)  # type: ignore[method-assign]
    yield opened
    await opened.close()


async def test_the_default_import_keeps_everything_but_positions(store: EventStore) -> None:
    events = [copied(f"s-{n % 2}", n // 2 + 1, n) for n in range(6)]
    await store.import_events(events)
    stored = [e async for e in store.read_all()]
    assert [(e.id, e.stream, e.version, e.data, e.metadata, e.recorded_at) for e in stored] == [
        (e.id, e.stream, e.version, e.data, e.metadata, e.recorded_at) for e in events
    ]


async def test_the_default_import_checks_every_stream_before_writing(store: EventStore) -> None:
    await store.import_events([copied("b-1", 1, 0)])
    with pytest.raises(ValidationError, match="b-1"):
        await store.import_events([copied("a-1", 1, 1), copied("b-1", 1, 2)])
    assert await store.stream_version("a-1") == 0
