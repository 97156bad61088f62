"""Session fixtures: the PostgreSQL server the backend and integration tests use.

With `EVENTBOOK_TEST_POSTGRES_URL` set (a superuser URL of a server you own), the tests
use it; otherwise they start a throwaway cluster (tests/servers/postgres.py) once per
session. Each test gets a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import pytest_asyncio

from tests.servers.nats import NatsCluster
from tests.servers.postgres import PostgresServer, find_bindir


@dataclass(frozen=True)
class PostgresForTests:
    url: str
    """A superuser URL of the server (no eventbook options)."""
    server: PostgresServer | None
    """The throwaway server, which tests may restart; None for a server given by URL."""

    def store_url(self, schema: str, **options: str) -> str:
        """A store URL for `schema`, with further options as query parameters."""
        return with_query(self.url, schema=schema, **options)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def new_schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    given = os.environ.get("EVENTBOOK_TEST_POSTGRES_URL")
    if given:
        yield PostgresForTests(given, None)
        return
    with PostgresServer() as server:
        yield PostgresForTests(server.url(), server)


@pytest.fixture(scope="session")
def restartable_postgres(postgres: PostgresForTests) -> Iterator[PostgresForTests]:
    """A server the test may restart: the session's own one, or a private one."""
    if postgres.server is not None:
        yield postgres
        return
    try:
        find_bindir()
    except RuntimeError as missing:  # the given server cannot be restarted, nor one started
        pytest.skip(str(missing))
    with PostgresServer() as server:
        yield PostgresForTests(server.url(), server)


async def drop_schema(url: str, schema: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET lock_timeout = '10s'")
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


@pytest_asyncio.fixture
async def postgres_schema(postgres: PostgresForTests) -> AsyncIterator[str]:
    """The name of a schema no one has used; dropped after the test."""
    schema = new_schema_name()
    yield schema
    await drop_schema(postgres.url, schema)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server: `EVENTBOOK_TEST_REDIS_URL`, or a throwaway one for the session."""
    given = os.environ.get("EVENTBOOK_TEST_REDIS_URL")
    if given:
        yield given
        return
    from tests.servers.redis import RedisServer

    with RedisServer() as server:
        yield server.url()


@pytest.fixture(scope="session")
def nats_cluster() -> Iterator[NatsCluster]:
    """A 3-node JetStream cluster on loopback for the session (tests/servers/nats.py)."""
    with NatsCluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def nats_node() -> Iterator[NatsCluster]:
    """A single JetStream node for the session."""
    with NatsCluster(1) as node:
        yield node
