"""PostgreSQL store throughput beside raw asyncpg doing the same work, in the same run.

    python -m benchmarks.store --backend postgres --runs 3 --json

Starts a throwaway durable server (fsync on, as in production) unless
`EVENTBOOK_BENCH_POSTGRES_URL` names one. Each run uses a fresh schema. The raw baseline
writes the same rows into a table with the same unique indexes (id; stream, version).
`raw_insert_notify_8conn_tx_s` shows what a NOTIFY inside every append transaction
would cost; eventbook's 8-task figure is measured with a LISTENing connection counting
its coalesced wake-ups (`eventbook_wakeups_8tasks`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from benchmarks.common import Figures, Target, stopwatch
from eventbook.backends.postgres import PostgresEventStore
from eventbook.backends.postgres.connection import prepare_connection
from eventbook.ids import uuid7
from eventbook.store import NewEvent

TARGETS = [
    Target("append 1 task vs raw insert", "eventbook_append_1task_s", "raw_insert_1conn_tx_s", 0.7),
    Target(
        "append 8 tasks vs raw 8 conns", "eventbook_append_8tasks_s", "raw_insert_8conn_tx_s", 0.7
    ),
    Target(
        "append 100 events vs raw 100 rows",
        "eventbook_append_100_events_s",
        "raw_insert_100rows_rows_s",
        0.7,
    ),
    Target("read_all vs raw fetch", "eventbook_read_all_events_s", "raw_fetch_all_rows_s", 0.7),
    Target(
        "read_stream 10k time vs raw",
        "eventbook_read_stream_10k_seconds",
        "raw_fetch_stream_10k_seconds",
        at_most=1.5,
    ),
]

DATA = {"customer": "Ada Lovelace", "total": 129.5, "lines": [{"sku": "B-17", "qty": 2}]}
METADATA = {"correlation": "c0ffee", "actor": "bench"}
_server: Any = None


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


RAW_TABLE = """
CREATE TABLE {schema}.raw_events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL UNIQUE, stream text NOT NULL, version bigint NOT NULL,
    type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream, version))
"""
RAW_INSERT = """INSERT INTO {schema}.raw_events (id, stream, version, type, data, metadata)
VALUES ($1, $2, $3, $4, $5, $6)"""
RAW_INSERT_NOTIFY = """WITH inserted AS ({insert} RETURNING 1)
SELECT pg_notify('raw_bench', '') FROM inserted"""
RAW_INSERT_MANY = """INSERT INTO {schema}.raw_events (id, stream, version, type, data, metadata)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[])"""
RAW_READ_PAGE = """SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {schema}.events WHERE (tx, seq) > ($1, $2) ORDER BY tx, seq LIMIT $3"""
RAW_READ_STREAM = """SELECT tx, seq, id, stream, version, type, data, metadata, recorded_at
FROM {schema}.events WHERE stream = $1 ORDER BY version"""


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    with stopwatch() as elapsed:
        await work()
    return elapsed()


def rows(prefix: str, count: int) -> list[tuple[Any, ...]]:
    data, metadata = _json(DATA), _json(METADATA)
    return [(uuid7(), f"{prefix}-{n}", 1, "OrderPlaced", data, metadata) for n in range(count)]


def _json(value: dict[str, Any]) -> bytes:
    import msgspec

    return msgspec.json.encode(value)


async def raw_figures(url: str, schema: str, scale: float) -> Figures:
    q = f'"{schema}"'
    insert = RAW_INSERT.format(schema=q)
    conns = [await asyncpg.connect(url) for _ in range(8)]
    for conn in conns:
        await prepare_connection(conn)
    try:
        await conns[0].execute(RAW_TABLE.format(schema=q))
        one, eight, batches = int(2000 * scale), int(8000 * scale), int(100 * scale)
        await conns[0].executemany(insert, rows("warm", 50))

        async def serial(conn: Any, work: list[tuple[Any, ...]], query: str) -> None:
            for args in work:
                await conn.execute(query, *args)

        async def spread(prefix: str, query: str) -> None:
            work = rows(prefix, eight)
            await asyncio.gather(*(serial(c, work[i::8], query) for i, c in enumerate(conns)))

        f: Figures = {}
        single = rows("one", one)
        f["raw_insert_1conn_tx_s"] = one / await timed(lambda: serial(conns[0], single, insert))
        f["raw_insert_8conn_tx_s"] = eight / await timed(lambda: spread("eight", insert))
        notify = RAW_INSERT_NOTIFY.format(insert=insert)
        f["raw_insert_notify_8conn_tx_s"] = eight / await timed(lambda: spread("notify", notify))

        async def many() -> None:
            for b in range(batches):
                columns = list(zip(*rows(f"many{b}", 100), strict=True))
                await conns[0].execute(RAW_INSERT_MANY.format(schema=q), *map(list, columns))

        f["raw_insert_100rows_rows_s"] = batches * 100 / await timed(many)
        return f
    finally:
        for conn in conns:
            await conn.close()


async def eventbook_figures(url: str, schema: str, scale: float) -> Figures:
    one, eight, batches = int(2000 * scale), int(8000 * scale), int(100 * scale)
    store_url = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    f: Figures = {}
    async with await PostgresEventStore.open(store_url, pool_size=8, pool_min_size=8) as store:
        listener = await asyncpg.connect(url)
        woken = 0

        def count(*_: object) -> None:
            nonlocal woken
            woken += 1

        await listener.add_listener(f"eventbook_{schema}", count)
        for n in range(50):
            await store.append(f"warm-{n}", [NewEvent("OrderPlaced", DATA, METADATA)])

        async def appends(prefix: str, count: int) -> None:
            for n in range(count):
                await store.append(
                    f"{prefix}-{n}", [NewEvent("OrderPlaced", DATA, METADATA)], expected=0
                )

        f["eventbook_append_1task_s"] = one / await timed(lambda: appends("one", one))
        woken = 0
        f["eventbook_append_8tasks_s"] = eight / await timed(
            lambda: asyncio.gather(*(appends(f"eight{t}", eight // 8) for t in range(8)))
        )
        await asyncio.sleep(0.2)
        f["eventbook_wakeups_8tasks"] = woken
        await listener.close()

        async def big() -> None:
            for b in range(batches):
                batch = [NewEvent("OrderPlaced", DATA, METADATA) for _ in range(100)]
                await store.append("big-1", batch, expected=b * 100)

        f["eventbook_append_100_events_s"] = batches * 100 / await timed(big)
        f.update(await read_figures(store, url, schema, batches * 100))
    return f


async def read_figures(
    store: PostgresEventStore, url: str, schema: str, stream_size: int
) -> Figures:
    head = await store.head()
    total = 0

    async def read_all() -> None:
        nonlocal total
        total = 0
        async for event in store.read_all():
            total += 1
            assert event.position <= head  # type: ignore[operator]

    raw = await asyncpg.connect(url)
    await prepare_connection(raw)
    try:
        fetched = 0
        read_page = RAW_READ_PAGE.format(schema=f'"{schema}"')

        async def raw_all() -> None:
            nonlocal fetched
            fetched, major, minor = 0, 0, 0
            while True:
                page = await raw.fetch(read_page, major, minor, 1000)
                fetched += len(page)
                if len(page) < 1000:
                    return
                major, minor = page[-1][0], page[-1][1]

        async def raw_stream() -> None:
            page = await raw.fetch(RAW_READ_STREAM.format(schema=f'"{schema}"'), "big-1")
            assert len(page) == stream_size

        async def stream() -> None:
            got = [e async for e in store.read_stream("big-1")]
            assert len(got) == stream_size

        await raw_all()  # warm both paths and the cache
        await read_all()
        f: Figures = {}
        f["raw_fetch_all_rows_s"] = fetched / await timed(raw_all)
        f["eventbook_read_all_events_s"] = total / await timed(read_all)
        assert total == fetched
        f["raw_fetch_stream_10k_seconds"] = await timed(raw_stream)
        f["eventbook_read_stream_10k_seconds"] = await timed(stream)
        return f
    finally:
        await raw.close()


async def one_run(scale: float) -> Figures:
    url = server_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    figures: Figures = {}
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        figures.update(await raw_figures(url, schema, scale))
        figures.update(await eventbook_figures(url, schema, scale))
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
    return figures
