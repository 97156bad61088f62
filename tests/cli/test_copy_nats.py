"""`eventbook copy` from SQLite and from PostgreSQL onto a 3-node NATS cluster keeps every
event exactly (ids, streams, versions, types, data, metadata, recorded_at), in order; a
stream's run longer than one atomic batch lands whole."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventbook import NewEvent, connect
from tests.backends.test_nats import drop_streams
from tests.cli.test_copy import copy, everything, history, seeded
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.servers.nats import NatsCluster

EVENTS = 3000
LONG_RUN = 1200
"""Events of one stream in a row: more than a copy page (1,000) and an append (500)."""


async def add_a_long_stream(url: str) -> None:
    async with await connect(url) as store:
        for start in range(0, LONG_RUN, 400):
            events = [NewEvent("Ticked", {"n": n}) for n in range(start, start + 400)]
            await store.append("clock-1", events)


@pytest.fixture(params=["sqlite", "postgres"])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/events.db"
    else:
        server: PostgresForTests = request.getfixturevalue("postgres")
        schema = new_schema_name()
        url = server.store_url(schema)
    asyncio.run(seeded(url, EVENTS))
    asyncio.run(add_a_long_stream(url))
    yield url
    if request.param == "postgres":
        asyncio.run(drop_schema(server.url, schema))


@pytest.fixture
def nats_url(nats_cluster: NatsCluster) -> Iterator[str]:
    stream = f"C{uuid.uuid4().hex[:12]}"
    yield nats_cluster.url(stream=stream, replicas="3")
    asyncio.run(drop_streams(nats_cluster, stream))


def test_a_copy_onto_nats_keeps_every_event_exactly(source_url: str, nats_url: str) -> None:
    copy(source_url, nats_url)
    original = asyncio.run(everything(source_url))
    assert len(original) == EVENTS + LONG_RUN
    assert asyncio.run(everything(nats_url)) == original
    assert history(1)[0].recorded_at == original[0][-1]  # the source's times, not the copy's


def test_a_copy_onto_nats_run_again_adds_nothing(source_url: str, nats_url: str) -> None:
    copy(source_url, nats_url)
    copy(source_url, nats_url)
    assert asyncio.run(everything(nats_url)) == asyncio.run(everything(source_url))
