"""Read models the projection tests share, written for SQLite and PostgreSQL alike.

`orders` keeps one row per order and, on purpose, non-idempotent effects (a running
total, an `applied` log without a unique key), so a repeated event shows up as a wrong
total or a duplicate log line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventbook._store.types import RecordedEvent
from eventbook.projections import (
    HandlerMap,
    HandlerRetry,
    Projection,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
)
from eventbook.projections._placeholders import numbered


def sql_for(dialect: str, sql: str) -> str:
    """SQL written with `?` for a statement that bypasses a batch (a raw `WriteBuffer`):
    numbered as a batch numbers it."""
    return numbered(sql) if dialect == "postgresql" else sql


SCHEMA = [
    "CREATE TABLE {orders} (id TEXT PRIMARY KEY, customer TEXT NOT NULL,"
    " total BIGINT NOT NULL, status TEXT NOT NULL, events BIGINT NOT NULL)",
    "CREATE TABLE {applied} (position TEXT NOT NULL, event_id TEXT NOT NULL)",
    "CREATE TABLE {totals} (id INTEGER PRIMARY KEY, events BIGINT NOT NULL, sum BIGINT NOT NULL)",
    "INSERT INTO {totals} VALUES (1, 0, 0)",
]


def orders_projection(
    database: ProjectionDatabase,
    *,
    name: str = "orders",
    version: int = 1,
    retry: HandlerRetry | None = None,
    poison: Callable[[RecordedEvent], bool] | None = None,
    batch_size: int | None = None,
    upcast: Callable[[RecordedEvent], RecordedEvent] | None = None,
    partitions: int = 1,
) -> Projection[SqlBatch]:
    insert = "INSERT INTO {orders} VALUES (?, ?, ?, 'placed', 1)"
    add = "UPDATE {orders} SET total = total + ?, events = events + 1 WHERE id = ?"
    ship = "UPDATE {orders} SET status = 'shipped', events = events + 1 WHERE id = ?"
    log = "INSERT INTO {applied} VALUES (?, ?)"
    count = "UPDATE {totals} SET events = events + 1, sum = sum + ? WHERE id = 1"
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    def applied(event: RecordedEvent, batch: SqlBatch, amount: int) -> None:
        if poison is not None and poison(event):
            raise ValueError(f"poisoned event {event.id}")
        batch.execute(log, (str(event.position), str(event.id)))
        batch.execute(count, (amount,))

    @handlers.on("OrderPlaced")
    def placed(event: RecordedEvent, batch: SqlBatch) -> None:
        applied(event, batch, event.data["total"])
        batch.execute(insert, (event.stream, event.data["customer"], event.data["total"]))

    @handlers.on("ItemAdded")
    def item(event: RecordedEvent, batch: SqlBatch) -> None:
        applied(event, batch, event.data["amount"])
        batch.execute(add, (event.data["amount"], event.stream))

    @handlers.on("OrderShipped")
    def shipped(event: RecordedEvent, batch: SqlBatch) -> None:
        applied(event, batch, 0)
        batch.execute(ship, (event.stream,))

    return Projection(
        name,
        SqlSink(database, tables=["orders", "applied", "totals"], schema=SCHEMA),
        handlers,
        version=version,
        retry=retry or HandlerRetry(max_attempts=3, backoff=0.01),
        batch_size=batch_size,
        upcast=upcast,
        partitions=partitions,
    )


async def model(database: ProjectionDatabase, version: int | None = None) -> dict[str, Any]:
    """The orders read model as plain data (through the views, or one build's tables)."""
    suffix = "" if version is None else f"_v{version}"
    orders = await database.fetch(f"SELECT * FROM orders{suffix} ORDER BY id")
    applied = await database.fetch(f"SELECT event_id FROM applied{suffix}")
    totals = await database.fetch(f"SELECT events, sum FROM totals{suffix}")
    ids = [row[0] for row in applied]
    return {
        "orders": [tuple(row) for row in orders],
        "applied": len(ids),
        "duplicates": len(ids) - len(set(ids)),
        "totals": tuple(totals[0]),
    }
