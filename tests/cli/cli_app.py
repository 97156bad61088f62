"""What the CLI tests point `--app` at: a repository for time travel, projections."""

from __future__ import annotations

import os
from typing import Any

from eventbook import EventStore, Repository
from eventbook._store.types import RecordedEvent
from eventbook.projections import (
    HandlerMap,
    HandlerRetry,
    OnFailure,
    Projection,
    SqlBatch,
    SQLiteDatabase,
    SqlSink,
)
from tests.unit.write_domain import Order, order_events


def orders(store: EventStore) -> Repository[Order]:
    return Repository(store, Order, order_events())


def build(store: EventStore) -> list[Projection[Any]]:
    database = SQLiteDatabase(os.environ["CLI_TEST_READ_DB"])
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
        )
        for version in (1, 2)
    ]
