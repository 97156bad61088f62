"""Projection throughput, live lag and rebuild memory, beside the raw driver.

    python -m benchmarks.projections --backend sqlite --runs 3 --json
    python -m benchmarks.projections --backend postgres --runs 3 --json

- catch-up: a projection writing one row per event into a table in the store's own
  database, against a raw loop (the driver alone) that reads the same events in pages
  of the same size, decodes them, inserts one row each and commits per page; and the
  same projection writing one row into each of three tables per event (A, B, C, A, ...),
  where the SQL sink's write reordering groups the rows (`--no-reorder` turns it off);
- live lag: from an append's return (in another process, 1,000 appends/s) to the commit
  of the read-model batch holding it;
- rebuild memory: peak RSS growth of a process rebuilding from 1,000,000 events.

PostgreSQL runs on a throwaway durable server unless EVENTBOOK_BENCH_POSTGRES_URL is set.
`--scale 0.1` shrinks every workload for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from benchmarks.common import Figures, Target, arguments, repeat, report, stopwatch, summarise
from benchmarks.store_postgres import server_url
from eventbook._connect import connect
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionRunner,
    RunnerSettings,
    SqlBatch,
    SQLiteDatabase,
    SqlSink,
    catch_up,
    reset_projection,
    setup_projection,
)

BATCH = 1000
CATCH_UP_EVENTS = 200_000
REBUILD_EVENTS = 1_000_000
LIVE_RATE = 1000
LIVE_SECONDS = 5.0

TARGETS = [
    Target("catch-up vs raw loop", "projection_catch_up_eps", "raw_loop_eps", at_least=0.5),
    Target("rebuild memory flat", "rebuild_rss_end_mb", "rebuild_rss_quarter_mb", at_most=1.15),
]
LIVE_TARGET = Target("live lag p99 <= 50 ms", "live_lag_p99_s", "live_lag_budget_s", at_most=1.0)
"""Set for PostgreSQL. On SQLite the appender is another process writing the same file, so
the two writers meet at SQLite's file lock; its lag is reported, not judged."""

_environment: dict[str, Any] = {}
_reorder = [True]


# -- where the events live ---------------------------------------------------------------------


def locations(backend: str, scale: float) -> dict[str, str]:
    """The store URL and read-model database spec (created once per process)."""
    if "store" not in _environment:
        if backend == "sqlite":
            folder = tempfile.mkdtemp(prefix="eventbook-bench-projections-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = Path(folder) / "events.db"
            _environment.update(store=f"sqlite:///{path}", read=f"sqlite:{path}", path=str(path))
        else:
            url = server_url()
            _environment.update(store=f"{url}?schema=bench", read=f"postgresql:bench_read:{url}")
        _environment["events"] = str(max(1, int(REBUILD_EVENTS * scale)))
    return _environment


def open_read_db(spec: str) -> ProjectionDatabase:
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return SQLiteDatabase(rest)
    from eventbook.projections.postgres import PostgresDatabase

    schema, _, dsn = rest.partition(":")
    return PostgresDatabase(dsn, schema=schema)


async def fill(store: EventStore, count: int) -> None:
    """`count` deposits, 100 per append, eight appenders at a time."""
    appends = count // 100 or 1

    async def appender(first: int) -> None:
        for n in range(first, appends, 8):
            size = min(100, count - n * 100)
            events = [
                NewEvent("Deposited", {"amount": n % 97, "note": "bench"}) for _ in range(size)
            ]
            await store.append(f"acct-{n}", events)

    await asyncio.gather(*(appender(first) for first in range(8)))


def rows_projection(
    database: ProjectionDatabase,
    name: str,
    types: tuple[str, ...] = ("Deposited",),
    *,
    tables: int = 1,
) -> Projection[SqlBatch]:
    """One row per event in each of `tables` tables."""
    names = [name, *(f"{name}_{n}" for n in range(2, tables + 1))]
    inserts = [f"INSERT INTO {{{table}}} VALUES (?, ?, ?)" for table in names]
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    def row(event: RecordedEvent, batch: SqlBatch) -> None:
        values = (str(event.position), event.stream, event.data.get("amount", 0))
        for insert in inserts:
            batch.execute(insert, values)

    for kind in types:
        handlers[kind] = row
    schema = [
        f"CREATE TABLE {{{table}}} (position TEXT NOT NULL, stream TEXT, amount BIGINT)"
        for table in names
    ]
    sink = SqlSink(database, tables=names, schema=schema, reorder=_reorder[0])
    return Projection(name, sink, handlers)


# -- catch-up ----------------------------------------------------------------------------------


async def measure_catch_up(store: EventStore, database: ProjectionDatabase, count: int) -> Figures:
    """Raw loop, projection, raw loop again: background work of the database (WAL
    checkpoints, autovacuum after the fill) weighs on both sides alike."""
    (last,) = await store.read_all_page(after=await nth_position(store, count - 1), limit=1)
    projection = rows_projection(database, "bench_catch_up")
    await setup_projection(projection)
    raw_before = await raw_loop(database, count)
    await reset_projection(projection)
    runner = ProjectionRunner(store, projection, settings=RunnerSettings(batch_size=BATCH))
    with stopwatch() as elapsed:
        await runner.run(until=last.position)
    done = (await database.fetch("SELECT count(*) FROM bench_catch_up"))[0][0]
    projection_eps = done / elapsed()
    raw_after = await raw_loop(database, count)
    three = rows_projection(database, "bench_catch_up3", tables=3)
    await setup_projection(three)
    await reset_projection(three)
    runner = ProjectionRunner(store, three, settings=RunnerSettings(batch_size=BATCH))
    with stopwatch() as elapsed:
        await runner.run(until=last.position)
    done = (await database.fetch("SELECT count(*) FROM bench_catch_up3"))[0][0]
    return {
        "projection_catch_up_eps": projection_eps,
        "projection_catch_up_3_tables_eps": done / elapsed(),
        "raw_loop_eps": (raw_before + raw_after) / 2,
    }


async def nth_position(store: EventStore, n: int) -> Position | None:
    after: Position | None = None
    while n > 0:
        page = await store.read_all_page(after=after, limit=min(n, 10_000))
        after, n = page[-1].position, n - len(page)
    return after


_document = msgspec.json.Decoder(dict[str, Any]).decode


async def raw_loop(database: ProjectionDatabase, count: int) -> float:
    """The same rows with the driver alone: read a page, decode, insert, commit."""
    if database.dialect == "sqlite":
        return await asyncio.to_thread(_raw_sqlite, database.path, count)  # type: ignore[attr-defined]
    return await _raw_postgres(database, count)


def _raw_sqlite(path: str, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("DROP TABLE IF EXISTS bench_raw")
    conn.execute("CREATE TABLE bench_raw (position TEXT NOT NULL, stream TEXT, amount BIGINT)")
    done, after = 0, 0
    with stopwatch() as elapsed:
        while done < count:
            rows = conn.execute(
                "SELECT position, document FROM eventbook_events WHERE position > ?"
                " ORDER BY position LIMIT ?",
                (after, BATCH),
            ).fetchall()
            if not rows:
                break
            values = []
            for position, document in rows:
                event = _document(document)
                values.append((str(position), event["stream"], event["data"].get("amount", 0)))
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO bench_raw VALUES (?, ?, ?)", values)
            conn.execute("COMMIT")
            after, done = rows[-1][0], done + len(rows)
    conn.close()
    return done / elapsed()


async def _raw_postgres(database: ProjectionDatabase, count: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(database.dsn)  # type: ignore[attr-defined]
    await conn.execute("DROP TABLE IF EXISTS bench_read.bench_raw")
    await conn.execute(
        "CREATE TABLE bench_read.bench_raw (position TEXT NOT NULL, stream TEXT, amount BIGINT)"
    )
    done, after = 0, (0, 0)
    with stopwatch() as elapsed:
        while done < count:
            rows = await conn.fetch(
                "SELECT tx, seq, NULL, stream, data::text FROM bench.events"
                " WHERE (tx, seq) > ($1, $2) ORDER BY tx, seq LIMIT $3",
                *after,
                BATCH,
            )
            if not rows:
                break
            values = [(f"{r[0]}:{r[1]}", r[3], _document(r[4]).get("amount", 0)) for r in rows]
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bench_read.bench_raw VALUES ($1, $2, $3)", values
                )
            after, done = (rows[-1][0], rows[-1][1]), done + len(rows)
    await conn.close()
    return done / elapsed()


# -- live lag ----------------------------------------------------------------------------------


async def measure_live_lag(
    store: EventStore, database: ProjectionDatabase, scale: float
) -> Figures:
    projection = rows_projection(database, "bench_live", types=("Tick",))
    await catch_up(store, projection, timeout=600)  # nothing to do but move to the head
    await settle(database)
    committed: dict[str, float] = {}
    wanted = [2**62]
    all_in = asyncio.Event()

    def observe(_: Any, events: Any, at: float) -> None:
        for event in events:
            committed[str(event.id)] = at
        if len(committed) >= wanted[0]:
            all_in.set()

    seconds = max(1.0, LIVE_SECONDS * scale)
    settings = RunnerSettings(batch_size=BATCH, poll_interval=0.5)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        async with ProjectionDaemon(store, [projection], settings=settings, on_batch=observe):
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.projections", "--ticks", _environment["store"],
                "--seconds", str(seconds), "--out", out.name,
            )  # fmt: skip
            await child.wait()
            text = await asyncio.to_thread(Path(out.name).read_text)
            appended: dict[str, float] = json.loads(text)
            wanted[0] = len(appended)
            if len(committed) < wanted[0]:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_in.wait(), 30)
    lags = sorted(committed[i] - t for i, t in appended.items() if i in committed)
    if len(lags) < len(appended):
        row = await database.checkpoint("bench_live", 1)
        raise RuntimeError(
            f"only {len(lags)} of {len(appended)} ticks reached the read model;"
            f" checkpoint {row.position if row else None}, head {await store.head()}"
        )
    return {
        "live_lag_p50_s": statistics.median(lags),
        "live_lag_p99_s": lags[int(len(lags) * 0.99) - 1],
        "live_lag_max_s": lags[-1],
        "live_lag_budget_s": 0.050,
        "live_appends": float(len(lags)),
    }


async def settle(database: ProjectionDatabase) -> None:
    """Write out what the bulk phases before left dirty, so that the database's own
    checkpoint does not land in the middle of the latency measurement."""
    if database.dialect == "postgresql":
        await database.fetch("CHECKPOINT")
    else:
        await database.fetch("PRAGMA wal_checkpoint(TRUNCATE)")


async def append_ticks(store_url: str, seconds: float, out: str) -> None:
    """The appender process: one event per append at LIVE_RATE appends per second."""
    store = await connect(store_url)
    appended: dict[str, float] = {}
    start = time.monotonic()
    try:
        for n in range(int(seconds * LIVE_RATE)):
            delay = start + n / LIVE_RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            event = NewEvent("Tick", {"n": n})
            await store.append(f"tick-{n % 50}", [event])
            appended[str(event.id)] = time.time()
    finally:
        await store.close()
    await asyncio.to_thread(Path(out).write_text, json.dumps(appended))


# -- rebuild memory ----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def rebuild_child(store_url: str, read_spec: str, total: int) -> dict[str, float]:
    """Runs in a fresh process: rebuild from every event, sampling memory as it goes."""
    store = await connect(store_url)
    database = open_read_db(read_spec)
    projection = rows_projection(database, "bench_rebuild")
    await setup_projection(projection)
    await reset_projection(projection)
    samples: dict[str, float] = {}
    seen = [0]

    def observe(_: Any, events: Any, __: float) -> None:
        seen[0] += len(events)
        for label, share in (("quarter", 0.25), ("half", 0.5)):
            if label not in samples and seen[0] >= total * share:
                samples[label] = rss_mb()

    head = await store.head()
    start_rss = rss_mb()
    runner = ProjectionRunner(
        store, projection, settings=RunnerSettings(batch_size=BATCH), on_batch=observe
    )
    with stopwatch() as elapsed:
        await runner.run(until=head)
    end_rss = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await database.close()
    await store.close()
    return {
        "rebuild_events": float(seen[0]),
        "rebuild_eps": seen[0] / elapsed(),
        "rebuild_rss_start_mb": start_rss,
        "rebuild_rss_quarter_mb": samples.get("quarter", end_rss),
        "rebuild_rss_half_mb": samples.get("half", end_rss),
        "rebuild_rss_end_mb": end_rss,
        "rebuild_peak_growth_mb": peak - start_rss,
    }


async def measure_rebuild_memory() -> Figures:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.projections", "--rebuild-child", _environment["store"],
        "--read", _environment["read"], "--events", str(_environment["events"]),
        stdout=subprocess.PIPE,
    )  # fmt: skip
    output, _ = await child.communicate()
    if child.returncode != 0 or not output.strip():
        raise RuntimeError(f"the rebuild process failed ({child.returncode}): {output!r}")
    figures: Figures = json.loads(output)
    return figures


# -- one run -----------------------------------------------------------------------------------


async def one_run(backend: str, scale: float) -> Figures:
    where = locations(backend, scale)
    store = await connect(where["store"])
    database = open_read_db(where["read"])
    try:
        await database.setup()
        if await store.head() is None:
            await fill(store, int(where["events"]))
        figures = await measure_catch_up(store, database, max(BATCH, int(CATCH_UP_EVENTS * scale)))
        figures |= await measure_live_lag(store, database, scale)
    finally:
        await database.close()
        await store.close()
    figures |= await measure_rebuild_memory()
    return figures


def main() -> None:
    parser = arguments(__doc__, ("sqlite", "postgres"))
    parser.add_argument(
        "--no-reorder", action="store_true", help="SQL sinks keep every write in handler order"
    )
    parser.add_argument("--ticks", help=argparse.SUPPRESS)  # the appender process
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--rebuild-child", help=argparse.SUPPRESS)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ticks:
        asyncio.run(append_ticks(args.ticks, args.seconds, args.out))
        return
    if args.rebuild_child:
        print(json.dumps(asyncio.run(rebuild_child(args.rebuild_child, args.read, args.events))))
        return
    _reorder[0] = not args.no_reorder
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.backend, args.scale)))
    targets = [*TARGETS, LIVE_TARGET] if args.backend == "postgres" else TARGETS
    report(summarise(f"projections/{args.backend}", runs, targets), args.json)


if __name__ == "__main__":
    main()
