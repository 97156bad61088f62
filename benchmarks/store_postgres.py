"""PostgreSQL store throughput beside raw asyncpg doing the same work, in the same run.

    python -m benchmarks.store --backend postgres --runs 3 --json

Starts a throwaway durable server (fsync on, as in production) unless
`EVENTBOOK_BENCH_POSTGRES_URL` names one; each run uses a fresh schema.

- The raw baseline writes the same rows into a table with the same unique indexes (id;
  stream, version), making the same ids (UUIDv7) and encoding the same JSON per row.
- Raw and eventbook measurements alternate in rounds and each figure is the best of its
  rounds, so both sides meet the same machine (a shared machine is noisy).
- `raw_insert_notify_8conn_tx_s` is what a NOTIFY inside every insert transaction costs.
  eventbook's 8-task appends run with NOTIFY on while a LISTENing connection counts the
  coalesced wake-ups (`eventbook_wakeups_8tasks`).
- Reads fetch the same rows as raw keyset-paged queries and parse the JSON with msgspec:
  the raw side through the store's JSONB codec (a call per value, as a hand-written
  asyncpg reader does), the store a page's data and metadata text in one call. Both
  sides count what they read and keep no more than a page of it: a reader that kept a
  whole read alive would be timing the garbage collector.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from benchmarks.common import Figures, Target, stopwatch
from eventbook._backends.postgres import PostgresEventStore
from eventbook._backends.postgres.connection import prepare_connection
from eventbook._store.ids import uuid7
from eventbook._store.types import NewEvent

TARGETS = [
    Target("append 1 task vs raw insert", "eventbook_append_1task_s", "raw_insert_1conn_tx_s", 0.7),
    Target(
        "append 1 task to a long stream vs to new streams",
        "eventbook_append_1task_long_stream_s",
        "eventbook_append_1task_s",
        0.8,
    ),
    Target(
        "append 8 tasks vs raw 8 conns", "eventbook_append_8tasks_s", "raw_insert_8conn_tx_s", 0.7
    ),
    Target(
        "append 100 events vs raw 100 rows",
        "eventbook_append_100_events_s",
        "raw_insert_100rows_rows_s",
        0.7,
    ),
    Target("read_all vs raw fetch", "eventbook_read_all_events_s", "raw_fetch_all_rows_s", 0.8),
    Target(
        "read_stream 10k time vs raw",
        "eventbook_read_stream_10k_seconds",
        "raw_fetch_stream_10k_seconds",
        at_most=1.5,
    ),
]

ROUNDS = 6
STREAM_SIZE = 10_000
DATA = {"customer": "Ada Lovelace", "total": 129.5, "lines": [{"sku": "B-17", "qty": 2}]}
METADATA = {"correlation": "c0ffee", "actor": "bench"}
_encode = msgspec.json.encode
_server: Any = None

RAW_TABLE = """CREATE TABLE {s}.raw_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE, stream text NOT NULL, version bigint NOT NULL,
    type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream, version))"""
RAW_INSERT = """INSERT INTO {s}.raw_events (id, stream, version, type, data, metadata)
VALUES ($1, $2, $3, $4, $5, $6)"""
RAW_INSERT_NOTIFY = """WITH inserted AS (
    INSERT INTO {s}.raw_events (id, stream, version, type, data, metadata)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING 1)
SELECT pg_notify('raw_bench', '') FROM inserted"""
RAW_INSERT_MANY = """INSERT INTO {s}.raw_events (id, stream, version, type, data, metadata)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[])"""
RAW_READ_PAGE = """SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {s}.events WHERE (tx, seq) > ($1, $2) ORDER BY tx, seq LIMIT $3"""
RAW_READ_STREAM = """SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {s}.events WHERE stream = $1 ORDER BY version"""


def server_url() -> str:
    """The server to measure: the given one, or a throwaway one started on first use."""
    global _server
    given = os.environ.get("EVENTBOOK_BENCH_POSTGRES_URL")
    if given:
        return given
    if _server is None:
        from tests.servers.postgres import PostgresServer

        _server = PostgresServer(durable=True)
        _server.start()
        atexit.register(_server.cleanup)
    url: str = _server.url()
    return url


async def rate(count: int, work: Callable[[], Awaitable[Any]]) -> float:
    with stopwatch() as elapsed:
        await work()
    return count / elapsed()


class Bench:
    """One run: a schema with a raw table and an event store, measured side by side."""

    def __init__(self, url: str, schema: str, scale: float) -> None:
        self.url, self.schema = url, schema
        # Short rounds, many of them: the best round is the one no other process disturbed.
        self.one, self.eight, self.batches = int(300 * scale), int(2000 * scale), int(20 * scale)
        self.stream_size = int(STREAM_SIZE * scale) // 100 * 100
        self.sql = {
            name: text.format(s=f'"{schema}"')
            for name, text in [
                ("insert", RAW_INSERT),
                ("notify", RAW_INSERT_NOTIFY),
                ("many", RAW_INSERT_MANY),
                ("page", RAW_READ_PAGE),
                ("stream", RAW_READ_STREAM),
            ]
        }
        self.best: Figures = {}

    def keep(self, name: str, value: float, *, lower: bool = False) -> None:
        old = self.best.get(name)
        better = old is None or (value < old if lower else value > old)
        self.best[name] = value if better else old  # type: ignore[assignment]

    # -- raw asyncpg -------------------------------------------------------------------------

    async def raw_serial(self, conn: Any, query: str, prefix: str, count: int) -> None:
        for n in range(count):
            await conn.execute(
                query, uuid7(), f"{prefix}-{n}", 1, "OrderPlaced", _encode(DATA), _encode(METADATA)
            )

    async def raw_round(self, conns: list[Any], r: int) -> None:
        insert, notify = self.sql["insert"], self.sql["notify"]
        one, eight = self.one, self.eight
        self.keep(
            "raw_insert_1conn_tx_s",
            await rate(one, lambda: self.raw_serial(conns[0], insert, f"one{r}", one)),
        )
        self.keep(
            "raw_insert_8conn_tx_s",
            await rate(
                eight,
                lambda: asyncio.gather(
                    *(
                        self.raw_serial(c, insert, f"eight{r}.{i}", eight // 8)
                        for i, c in enumerate(conns)
                    )
                ),
            ),
        )
        self.keep(
            "raw_insert_notify_8conn_tx_s",
            await rate(
                eight,
                lambda: asyncio.gather(
                    *(
                        self.raw_serial(c, notify, f"notify{r}.{i}", eight // 8)
                        for i, c in enumerate(conns)
                    )
                ),
            ),
        )

        async def many() -> None:
            for b in range(self.batches):
                columns: list[list[Any]] = [[], [], [], [], [], []]
                for n in range(100):
                    row = (
                        uuid7(),
                        f"many{r}.{b}",
                        n + 1,
                        "OrderPlaced",
                        _encode(DATA),
                        _encode(METADATA),
                    )
                    for column, value in zip(columns, row, strict=True):
                        column.append(value)
                await conns[0].execute(self.sql["many"], *columns)

        self.keep("raw_insert_100rows_rows_s", await rate(self.batches * 100, many))

    # -- eventbook ---------------------------------------------------------------------------

    async def appends(self, store: PostgresEventStore, prefix: str, count: int) -> None:
        for n in range(count):
            await store.append(
                f"{prefix}-{n}", [NewEvent("OrderPlaced", DATA, METADATA)], expected=0
            )

    async def appends_to(self, store: PostgresEventStore, stream: str, count: int) -> None:
        for _ in range(count):
            await store.append(stream, [NewEvent("OrderPlaced", DATA, METADATA)])

    async def eventbook_round(self, store: PostgresEventStore, r: int) -> None:
        one, eight = self.one, self.eight
        self.keep(
            "eventbook_append_1task_s", await rate(one, lambda: self.appends(store, f"one{r}", one))
        )
        self.keep(
            "eventbook_append_1task_long_stream_s",
            await rate(one, lambda: self.appends_to(store, "tall-1", one)),
        )
        listener = await asyncpg.connect(self.url)
        woken = 0

        def count(*_: object) -> None:
            nonlocal woken
            woken += 1

        await listener.add_listener(f"eventbook_{self.schema}", count)
        self.keep(
            "eventbook_append_8tasks_s",
            await rate(
                eight,
                lambda: asyncio.gather(
                    *(self.appends(store, f"eight{r}.{t}", eight // 8) for t in range(8))
                ),
            ),
        )
        await asyncio.sleep(0.1)
        await listener.close()
        self.keep("eventbook_wakeups_8tasks", woken)

        async def big() -> None:
            for b in range(self.batches):
                batch = [NewEvent("OrderPlaced", DATA, METADATA) for _ in range(100)]
                await store.append(f"big-{r}", batch, expected=b * 100)

        self.keep("eventbook_append_100_events_s", await rate(self.batches * 100, big))

    # -- reads -------------------------------------------------------------------------------

    async def write_stream(self, store: PostgresEventStore, stream: str) -> None:
        """A stream of `stream_size` events (written once, not timed)."""
        for b in range(self.stream_size // 100):
            batch = [NewEvent("OrderPlaced", DATA, METADATA) for _ in range(100)]
            await store.append(stream, batch, expected=b * 100)

    async def read_rounds(self, store: PostgresEventStore, raw: Any) -> None:
        stream_size = self.stream_size

        async def raw_all() -> int:
            fetched, major, minor = 0, 0, 0
            while True:
                page = await raw.fetch(self.sql["page"], major, minor, 1000)
                fetched += len(page)
                if len(page) < 1000:
                    return fetched
                major, minor = page[-1][0], page[-1][1]

        async def read_all() -> int:
            # Counted and let go, as raw_all lets its rows go: a list of every event read
            # (as this was) kept them all alive for the garbage collector to walk, which
            # cost 1.5-2 µs a row, about a quarter of the whole read.
            read = 0
            async for _ in store.read_all():
                read += 1
            return read

        async def raw_stream() -> None:
            assert len(await raw.fetch(self.sql["stream"], "long-1")) == stream_size

        async def read_stream() -> None:
            assert len([e async for e in store.read_stream("long-1")]) == stream_size

        async def counted(read: Callable[[], Awaitable[int]]) -> None:
            assert await read() == total  # every event is visible: nothing is held back

        total = await raw_all()
        for _ in range(ROUNDS):
            self.keep("raw_fetch_all_rows_s", await rate(total, lambda: counted(raw_all)))
            self.keep("eventbook_read_all_events_s", await rate(total, lambda: counted(read_all)))
            self.keep("raw_fetch_stream_10k_seconds", 1 / await rate(1, raw_stream), lower=True)
            self.keep(
                "eventbook_read_stream_10k_seconds", 1 / await rate(1, read_stream), lower=True
            )
        self.best["events_read"] = total

    async def run(self) -> Figures:
        conns = [await asyncpg.connect(self.url) for _ in range(8)]
        for conn in conns:
            await prepare_connection(conn)  # the store's JSONB decoding, for the reads
        await conns[0].execute(RAW_TABLE.format(s=f'"{self.schema}"'))
        store_url = f"{self.url}{'&' if '?' in self.url else '?'}schema={self.schema}"
        try:
            async with await PostgresEventStore.open(
                store_url, pool_size=8, pool_min_size=8, migrate=False
            ) as store:
                await self.raw_serial(conns[0], self.sql["insert"], "warm", 50)
                await self.appends(store, "warm", 50)
                await self.write_stream(store, "tall-1")  # single appends go to it too
                for r in range(ROUNDS):
                    await self.raw_round(conns, r)
                    await self.eventbook_round(store, r)
                await self.write_stream(store, "long-1")  # the stream the reads fetch whole
                await self.read_rounds(store, conns[0])
        finally:
            for conn in conns:
                await conn.close()
        return self.best


async def one_run(scale: float) -> Figures:
    url = server_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    await PostgresEventStore.migrate(f"{url}{'&' if '?' in url else '?'}schema={schema}")
    try:
        return await Bench(url, schema, scale).run()
    finally:
        admin = await asyncpg.connect(url)
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
