"""What the CLI tests point `--app` at: a repository for time travel, projections."""

from __future__ import annotations

import os
from typing import Any

from eventbook import EventStore, Repository, projections
from eventbook._store.types import RecordedEvent
from eventbook.projections import (
    HandlerMap,
    HandlerRetry,
    OnFailure,
    Projection,
    SqlBatch,
    SqlSink,
)
from tests.unit.write_domain import Order, order_events


def orders(store: EventStore) -> Repository[Order]:
    return Repository(store, Order, order_events())


async def build(store: EventStore) -> list[Projection[Any]]:
    """Two builds of `totals`: a row per deposit; a negative deposit is parked (skipped).
    Version 2 has three partitions. The read database is the URL in CLI_TEST_READ_DB
    (SQLite or PostgreSQL)."""
    database = await projections.open(os.environ["CLI_TEST_READ_DB"])
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Deposited")
    def deposited(event: RecordedEvent, batch: SqlBatch) -> None:
        if event.data["amount"] < 0:
            raise ValueError("a negative deposit")
        batch.execute("INSERT INTO {totals} VALUES (?, ?)", (event.stream, event.data["amount"]))

    retry = HandlerRetry(max_attempts=1, backoff=0.01, on_failure=OnFailure.SKIP)
    return [
        Projection(
            "totals",
            SqlSink(database, tables=["totals"], schema=["CREATE TABLE {totals} (s TEXT, n INT)"]),
            handlers,
            version=version,
            retry=retry,
            partitions=1 if version == 1 else 3,
        )
        for version in (1, 2)
    ]
