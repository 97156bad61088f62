"""A projection with a build in SQL and a build in Redis, for the switch-following tests.

`build(store)` is what `eventbook projections switch --app` calls in another process.
The read-model database comes from VIEW_TEST_READ_MODELS (a `projections.open` URL),
Redis from VIEW_TEST_REDIS; VIEW_TEST_TARGET says what version 2 is: sql or redis.
"""

from __future__ import annotations

import os
from typing import Any

from eventbook._store.port import EventStore
from eventbook._store.types import RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
    open,
)
from eventbook.projections.sinks.redis_values import RedisValueSink, ValueBatch
from eventbook.projections.sinks.sql import versioned

NAME = "tally"


def tally_sql(database: ProjectionDatabase, version: int) -> Projection[SqlBatch]:
    """One row: how many events this build has counted, and which build it is."""
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Counted")
    def counted(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute("UPDATE {tally} SET events = events + 1")

    schema = [
        "CREATE TABLE {tally} (build INTEGER NOT NULL, events BIGINT NOT NULL)",
        f"INSERT INTO {{tally}} VALUES ({version}, 0)",
    ]
    sink = SqlSink(database, tables=["tally"], schema=schema)
    return Projection(NAME, sink, handlers, version=version)


def tally_redis(client: Any, database: ProjectionDatabase, version: int) -> Projection[ValueBatch]:
    handlers: HandlerMap[ValueBatch] = HandlerMap()

    @handlers.on("Counted")
    def counted(event: RecordedEvent, batch: ValueBatch) -> None:
        batch.hset(event, "all", {"build": version})
        batch.hincrby(event, "all", "events", 1)

    sink = RedisValueSink(client, checkpoints=database, namespace=NAME)
    return Projection(NAME, sink, handlers, version=version)


class SqlTally:
    """Reads one SQL build's own table (not the readers' view): (build, events)."""

    def __init__(self, database: ProjectionDatabase, version: int) -> None:
        self.database = database
        self.sql = f"SELECT build, events FROM {versioned('tally', version)}"

    async def get(self) -> tuple[int, int]:
        (row,) = await self.database.fetch(self.sql)
        return int(row[0]), int(row[1])


class RedisTally:
    def __init__(self, sink: RedisValueSink, version: int) -> None:
        self.sink = sink
        self.version = version

    async def get(self) -> tuple[int, int]:
        fields = await self.sink.hgetall(self.version, "all")
        return int(fields.get("build", self.version)), int(fields.get("events", 0))


def builds(database: ProjectionDatabase, target: str, redis: Any) -> list[Projection[Any]]:
    second = tally_sql(database, 2) if target == "sql" else tally_redis(redis, database, 2)
    return [tally_sql(database, 1), second]


async def build(store: EventStore) -> list[Projection[Any]]:
    database = await open(os.environ["VIEW_TEST_READ_MODELS"])
    redis = None
    if os.environ["VIEW_TEST_TARGET"] == "redis":
        from redis.asyncio import Redis

        redis = Redis.from_url(os.environ["VIEW_TEST_REDIS"])
    return builds(database, os.environ["VIEW_TEST_TARGET"], redis)
