"""The property-based test of the store contract (`eventbook.testing.property`) on every
backend: memory, SQLite, PostgreSQL and a 3-node NATS JetStream cluster, each example on a
fresh, empty store. `EVENTBOOK_PROPERTY_EXAMPLES=2000` makes a long run.

Every backend offers the stream lifecycle, so each is told to drive it (`lifecycle=True`:
refusing it would fail, not skip it)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from eventbook._backends.memory import MemoryEventStore
from eventbook._connect import connect
from eventbook._store.port import EventStore
from eventbook.testing.property import check_store_contract
from tests.backends.test_nats import drop_streams, new_stream_name
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.servers.nats import NatsCluster


def test_the_contract_holds_on_the_memory_store() -> None:
    @asynccontextmanager
    async def fresh() -> AsyncIterator[EventStore]:
        async with MemoryEventStore() as store:
            yield store

    check_store_contract(fresh, lifecycle=True)


def test_the_contract_holds_on_sqlite(tmp_path: Path) -> None:
    files = itertools.count()

    @asynccontextmanager
    async def fresh() -> AsyncIterator[EventStore]:
        async with await connect(f"sqlite:///{tmp_path}/events-{next(files)}.db") as store:
            yield store

    check_store_contract(fresh, lifecycle=True)


def test_the_contract_holds_on_postgresql(postgres: PostgresForTests) -> None:
    @asynccontextmanager
    async def fresh() -> AsyncIterator[EventStore]:
        schema = new_schema_name()
        try:
            async with await connect(postgres.store_url(schema)) as store:
                yield store
        finally:
            await drop_schema(postgres.url, schema)

    check_store_contract(fresh, lifecycle=True)


def test_the_contract_holds_on_nats(nats_cluster: NatsCluster) -> None:
    @asynccontextmanager
    async def fresh() -> AsyncIterator[EventStore]:
        stream = new_stream_name()
        try:
            async with await connect(nats_cluster.url(stream=stream, replicas="3")) as store:
                yield store
        finally:
            await drop_streams(nats_cluster, stream)

    check_store_contract(fresh, lifecycle=True)
