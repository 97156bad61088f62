"""The projection the process tests run in a daemon of their own.

`build(store)` is what `python -m eventbook.projections run` calls. The read-model
database comes from the environment: EVENTBOOK_TEST_READ_DB is `sqlite:<path>` or
`postgresql:<schema>:<dsn>`; EVENTBOOK_TEST_PARTITIONS (default 1) partitions the ledger.
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
    SQLiteDatabase,
    SqlSink,
)


def open_database(spec: str) -> ProjectionDatabase:
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteDatabase(rest)
    from eventbook.projections.postgres import PostgresDatabase

    schema, _, dsn = rest.partition(":")
    return PostgresDatabase(dsn, schema=schema)


def ledger_projection(
    database: ProjectionDatabase, name: str = "ledger", partitions: int = 1
) -> Projection[SqlBatch]:
    """Deposits into balances, with a log of applied events: non-idempotent on purpose."""
    log = f"INSERT INTO {{{name}_applied}} VALUES (?, ?)"
    add = (
        f"INSERT INTO {{{name}_balances}} VALUES (?, ?) ON CONFLICT (account)"
        f" DO UPDATE SET total = {{{name}_balances}}.total + excluded.total"
    )
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Deposited")
    def deposited(event: RecordedEvent, batch: SqlBatch) -> None:
        batch.execute(log, (str(event.position), str(event.id)))
        batch.execute(add, (event.stream, event.data["amount"]))

    schema = [
        f"CREATE TABLE {{{name}_applied}} (position TEXT NOT NULL, event_id TEXT NOT NULL)",
        f"CREATE TABLE {{{name}_balances}} (account TEXT PRIMARY KEY, total BIGINT NOT NULL)",
    ]
    sink = SqlSink(database, tables=[f"{name}_applied", f"{name}_balances"], schema=schema)
    return Projection(name, sink, handlers, partitions=partitions)


def build(store: EventStore) -> list[Projection[Any]]:
    database = open_database(os.environ["EVENTBOOK_TEST_READ_DB"])
    partitions = int(os.environ.get("EVENTBOOK_TEST_PARTITIONS", "1"))
    return [ledger_projection(database, partitions=partitions)]
