"""`eventbook copy` throughput against the raw drivers, both ways, in the same run.

    python -m benchmarks.copy --runs 3 --json

Each run copies N events (50,000 at scale 1) SQLite -> PostgreSQL, then that PostgreSQL
store -> a new SQLite file, with `transfer.copy_store` (what `eventbook copy` runs, minus
the progress bar and process start). Beside each copy, in the same run:

- **raw write** of the destination: a hand-written batched insert of the same events,
  1,000 rows per transaction, with the raw driver (`asyncpg` `unnest`, `sqlite3`
  `executemany`), into an empty table of the same shape (the store's own migration on
  SQLite; `LIKE events INCLUDING ALL` on PostgreSQL), encoding each event's JSON;
- **raw read** of the source: keyset pages of 1,000 rows with the raw driver, each
  document decoded by msgspec;
- **eventbook read** of the source alone (`read_all_page`, the copy's own read), for
  reference.

The slower side is the backend whose raw write rate is lower (PostgreSQL, durable, on
most machines). Target: copy >= 0.5 x the slower side's raw write rate, both ways. The
stricter bound of each direction (the lower of the raw read of its source and the raw
write of its destination: no copy can pass it) is reported beside, without a target.
SQLite runs with `synchronous = FULL` on both sides (the store's default); PostgreSQL is
a throwaway durable server (fsync on) unless `EVENTBOOK_BENCH_POSTGRES_URL` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from benchmarks.common import Figures, Target, repeat, report, stopwatch, summarise
from benchmarks.store_postgres import server_url
from eventbook import connect
from eventbook._backends.postgres.connection import prepare_connection
from eventbook._backends.sqlite.schema import prepare_database
from eventbook._store.ids import uuid7
from eventbook._store.port import EventStore
from eventbook._store.types import Position, RecordedEvent
from eventbook.cli import transfer

EVENTS = 50_000
PAGE = 1000
STREAMS = 2000

TARGETS = [
    Target(
        "copy SQLite -> PostgreSQL vs the slower side's raw writes",
        "copy_sqlite_to_postgres_per_s",
        "raw_write_slower_side_per_s",
        0.5,
    ),
    Target(
        "copy PostgreSQL -> SQLite vs the slower side's raw writes",
        "copy_postgres_to_sqlite_per_s",
        "raw_write_slower_side_per_s",
        0.5,
    ),
]

_encode = msgspec.json.encode
_decode_dicts = msgspec.json.Decoder(list[dict[str, Any]]).decode


def history(count: int) -> list[RecordedEvent]:
    """Order-like events over many streams, interleaved, with metadata and distinct times."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        RecordedEvent(
            uuid7(),
            f"order-{n % STREAMS}",
            n // STREAMS + 1,
            Position(0, n + 1),
            f"Order{('Placed', 'Paid', 'Shipped')[n % 3]}",
            {
                "order_id": f"order-{n % STREAMS}",
                "customer": "Ada Lovelace",
                "total": 123.45 + n,
                "lines": [{"sku": "A-1", "qty": 2, "price": 9.99}, {"sku": "B-7", "qty": 1}],
            },
            {"correlation_id": str(uuid.uuid4()), "actor": "ann"},
            start + timedelta(milliseconds=n),
        )
        for n in range(count)
    ]


def pages(events: list[RecordedEvent]) -> list[list[RecordedEvent]]:
    return [events[start : start + PAGE] for start in range(0, len(events), PAGE)]


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


# -- raw SQLite ---------------------------------------------------------------------------


def raw_sqlite(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    return connection


def raw_sqlite_write(path: Path, events: list[RecordedEvent]) -> float:
    """Events/s: the store's table in a new file, 1,000 rows per transaction."""
    connection = raw_sqlite(path)
    prepare_database(connection, str(path))  # the store's table, as it is now
    insert = (
        "INSERT INTO eventbook_events (id, stream, version, type, document)"
        " VALUES (?, ?, ?, ?, CAST(? AS TEXT))"
    )
    with stopwatch() as elapsed:
        for page in pages(events):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                insert, [(e.id.bytes, e.stream, e.version, e.type, _encode(e)) for e in page]
            )
            connection.execute("COMMIT")
    connection.close()
    return len(events) / elapsed()


def raw_sqlite_read(path: Path) -> float:
    """Events/s: keyset pages of documents, decoded."""
    connection = raw_sqlite(path)
    query = (
        "SELECT position, document FROM eventbook_events"
        " WHERE position > ? ORDER BY position LIMIT ?"
    )
    read, after = 0, 0
    with stopwatch() as elapsed:
        while rows := connection.execute(query, (after, PAGE)).fetchall():
            read += len(_decode_dicts("[" + ",".join(row[1] for row in rows) + "]"))
            after = rows[-1][0]
    connection.close()
    return read / elapsed()


# -- raw PostgreSQL -----------------------------------------------------------------------

RAW_TABLE = "CREATE TABLE {s}.raw_events (LIKE {s}.events INCLUDING ALL)"
RAW_INSERT = """INSERT INTO {s}.raw_events (tx, id, stream, version, type, data, metadata,
    recorded_at)
SELECT pg_current_xact_id()::text::bigint, * FROM unnest($1::uuid[], $2::text[],
    $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[])"""
RAW_READ = """SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {s}.events WHERE (tx, seq) > ($1, $2) ORDER BY tx, seq LIMIT $3"""


async def raw_postgres_write(connection: Any, schema: str, events: list[RecordedEvent]) -> float:
    """Events/s: an empty table shaped like the store's, 1,000 rows per transaction."""
    quoted = f'"{schema}"'
    await connection.execute(RAW_TABLE.format(s=quoted))
    insert = RAW_INSERT.format(s=quoted)
    with stopwatch() as elapsed:
        for page in pages(events):
            await connection.execute(
                insert,
                [e.id for e in page],
                [e.stream for e in page],
                [e.version for e in page],
                [e.type for e in page],
                [_encode(e.data) for e in page],
                [_encode(e.metadata) for e in page],
                [e.recorded_at for e in page],
            )
    return len(events) / elapsed()


async def raw_postgres_read(connection: Any, schema: str) -> float:
    """Events/s: keyset pages in the global order, JSONB decoded by msgspec."""
    query = RAW_READ.format(s=f'"{schema}"')
    read, major, minor = 0, 0, 0
    with stopwatch() as elapsed:
        while rows := await connection.fetch(query, major, minor, PAGE):
            read += len(rows)
            major, minor = rows[-1][0], rows[-1][1]
    return read / elapsed()


# -- eventbook ----------------------------------------------------------------------------


async def eventbook_read(url: str) -> float:
    """Events/s: the source read alone, as the copy reads it."""
    store: EventStore = await connect(url)
    try:
        read, after = 0, None
        with stopwatch() as elapsed:
            while page := await store.read_all_page(after=after, limit=PAGE):
                read += len(page)
                after = page[-1].position
        return read / elapsed()
    finally:
        await store.close()


async def eventbook_copy(source_url: str, destination_url: str, count: int) -> float:
    source: EventStore = await connect(source_url)
    destination: EventStore = await connect(destination_url)
    try:
        copied = await transfer.copy_store(source, destination)
    finally:
        await destination.close()
        await source.close()
    assert copied.events == count, copied
    return count / copied.seconds


async def one_run(scale: float) -> Figures:
    count = max(2000, int(EVENTS * scale))
    events = history(count)
    url = server_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    postgres_url = with_schema(url, schema)
    admin = await asyncpg.connect(url)
    await prepare_connection(admin)
    figures: Figures = {"events": count}
    try:
        with tempfile.TemporaryDirectory(prefix="eventbook-copy-bench-") as folder:
            root = Path(folder)
            first, last = f"sqlite:///{root}/first.db", f"sqlite:///{root}/last.db"
            seeding: EventStore = await connect(first)
            for page in pages(events):
                await seeding.import_events(page)
            await seeding.close()

            # SQLite -> PostgreSQL
            figures["raw_read_sqlite_per_s"] = raw_sqlite_read(root / "first.db")
            figures["eventbook_read_sqlite_per_s"] = await eventbook_read(first)
            store: EventStore = await connect(postgres_url)  # migrated: the copy's schema
            await store.close()
            figures["raw_write_postgres_per_s"] = await raw_postgres_write(admin, schema, events)
            figures["copy_sqlite_to_postgres_per_s"] = await eventbook_copy(
                first, postgres_url, count
            )

            # PostgreSQL -> SQLite
            figures["raw_read_postgres_per_s"] = await raw_postgres_read(admin, schema)
            figures["eventbook_read_postgres_per_s"] = await eventbook_read(postgres_url)
            figures["raw_write_sqlite_per_s"] = raw_sqlite_write(root / "raw.db", events)
            figures["copy_postgres_to_sqlite_per_s"] = await eventbook_copy(
                postgres_url, last, count
            )
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
    figures["raw_write_slower_side_per_s"] = min(
        figures["raw_write_sqlite_per_s"], figures["raw_write_postgres_per_s"]
    )
    # Stricter, for reference: the raw read of the source or the raw write of the
    # destination, whichever is slower; no copy can pass it.
    figures["raw_bound_sqlite_to_postgres_per_s"] = min(
        figures["raw_read_sqlite_per_s"], figures["raw_write_postgres_per_s"]
    )
    figures["raw_bound_postgres_to_sqlite_per_s"] = min(
        figures["raw_read_postgres_per_s"], figures["raw_write_sqlite_per_s"]
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the workload size (0.1 for a smoke run)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.scale)))
    report(summarise("copy", runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
