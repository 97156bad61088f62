"""SQLite event store against the raw `sqlite3` driver, on files in a temporary directory.

Both sides use the same `synchronous` setting, the same table (created by the store's own
migration) and msgspec for JSON. The raw side does the least a hand-written store would:
encode the event to JSON and insert a row per event in its own transaction; read rows
back and decode each document. eventbook adds validation, the expected-version and id
checks, the hop to its writer or reader thread, and building `RecordedEvent`s. A second
raw writer runs the same one-row transactions on a thread, each awaited from asyncio: the
hops alone, which any writer that keeps disk syncs off the event loop must make.

Disk syncs and a shared machine make single measurements noisy, so each figure is the
sum (writes) or the best (reads) of several rounds, the raw and eventbook rounds taking
turns so that both see the same conditions.

    python -m benchmarks.store --backend sqlite --runs 3
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from benchmarks import peers
from benchmarks.common import Figures, Target
from eventbook._backends.sqlite import SQLiteEventStore
from eventbook._backends.sqlite.schema import prepare_database
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent

SYNCHRONOUS = "FULL"  # the store's default: every commit is synced to disk
ROUNDS = 5
LONG_STREAM = 20_000  # events in the stream that single appends go to, beside short ones

TARGETS = [
    Target("append 1 event, 1 task", "eventbook_append_1_task_per_s", "raw_tx_1_row_per_s", 0.7),
    Target(
        "append 1 event, 1 task vs raw transactions on a thread",
        "eventbook_append_1_task_per_s",
        "raw_tx_1_row_on_a_thread_per_s",
        0.85,
    ),
    Target("append 1 event, 8 tasks", "eventbook_append_8_tasks_per_s", "raw_tx_1_row_per_s", 3.0),
    Target(
        "append 1 event to a long stream vs short ones",
        "eventbook_append_1_task_long_stream_per_s",
        "eventbook_append_1_task_per_s",
        0.8,
    ),
    Target(
        "append 100 events",
        "eventbook_append_100_events_per_s",
        "raw_tx_100_rows_rows_per_s",
        0.7,
    ),
    Target("read_all 100k", "eventbook_read_all_events_per_s", "raw_read_all_events_per_s", 0.8),
    Target(
        "read_stream 10k (time)",
        "eventbook_read_stream_10k_s",
        "raw_read_stream_10k_s",
        at_most=1.5,
    ),
    # Against the incumbent (`eventsourcing`, optional: skipped when not installed).
    Target(
        "append 1 event, 1 task vs eventsourcing",
        "eventbook_append_1_task_per_s",
        "eventsourcing_append_1_per_s",
        1.2,
    ),
    Target(
        "append 100 events vs eventsourcing",
        "eventbook_append_100_events_per_s",
        "eventsourcing_append_100_events_per_s",
        1.0,
    ),
    Target(
        "read_all vs eventsourcing",
        "eventbook_read_all_events_per_s",
        "eventsourcing_read_all_events_per_s",
        1.0,
    ),
    Target(
        "read_stream 10k vs eventsourcing (time)",
        "eventbook_read_stream_10k_s",
        "eventsourcing_read_stream_10k_s",
        at_most=1.0,
    ),
]

_encode = msgspec.json.encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def _data(n: int) -> dict[str, Any]:
    return {
        "order_id": f"order-{n}",
        "customer": "Ada Lovelace",
        "total": 123.45 + n,
        "lines": [{"sku": "A-1", "qty": 2, "price": 9.99}, {"sku": "B-7", "qty": 1, "price": 3.5}],
    }


def _metadata() -> dict[str, Any]:
    return {"correlation_id": str(uuid.uuid4()), "actor": "ann"}


def _new(n: int) -> NewEvent:
    return NewEvent("OrderPlaced", _data(n), _metadata())


async def one_run(scale: float) -> Figures:
    singles = max(10, int(120 * scale))  # per round
    long_stream = max(1000, int(LONG_STREAM * scale)) // 1000 * 1000
    hundreds = max(2, int(20 * scale))
    read_total = max(2000, int(100_000 * scale))
    stream_total = max(1000, int(10_000 * scale))
    if not peers.available():
        peers.say_skipped()
    with tempfile.TemporaryDirectory(prefix="eventbook-bench-") as folder:
        root = Path(folder)
        figures = await _writes(root, singles, hundreds, long_stream)
        figures.update(await _reads(root / "read.db", read_total, stream_total))
        figures.update(await _short_reads(root / "short.db"))
    return figures


# -- writing ------------------------------------------------------------------------------


def _raw_connection(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    return connection


class _RawWriter:
    """A hand-written append: encode, insert the rows, commit. No checks."""

    INSERT = (
        "INSERT INTO eventbook_events (id, stream, version, type, document)"
        " VALUES (?, ?, ?, ?, CAST(? AS TEXT))"
    )

    def __init__(self, path: Path) -> None:
        self.connection = _raw_connection(path)
        prepare_database(self.connection, str(path))  # the store's table, as it is now
        self.version = 0

    def transaction(self, n: int, rows: int) -> None:
        batch = []
        for _ in range(rows):
            self.version += 1
            row = {"type": "OrderPlaced", "data": _data(n), "metadata": _metadata()}
            batch.append(
                (uuid.uuid4().bytes, f"s-{n % 50}", self.version, "OrderPlaced", _encode(row))
            )
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany(self.INSERT, batch)
        self.connection.execute("COMMIT")

    def transactions(self, count: int, rows: int) -> float:
        """Seconds taken for `count` transactions of `rows` rows each."""
        start = time.perf_counter()
        for n in range(count):
            self.transaction(n, rows)
        return time.perf_counter() - start

    async def transactions_on_a_thread(self, count: int, thread: ThreadPoolExecutor) -> float:
        """Seconds taken for `count` one-row transactions, each run on `thread` and awaited:
        the least any writer that keeps disk syncs off the event loop must pay."""
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        for n in range(count):
            await loop.run_in_executor(thread, self.transaction, n, 1)
        return time.perf_counter() - start


async def _timed_appends(store: EventStore, count: int, tasks: int, size: int) -> float:
    """Seconds taken by `tasks` concurrent tasks appending `count` batches of `size` in all."""
    each = count // tasks

    async def task(tag: int) -> None:
        for n in range(each):
            await store.append(f"s-{tag}-{n % 50}", [_new(n) for _ in range(size)])

    start = time.perf_counter()
    await asyncio.gather(*(task(t) for t in range(tasks)))
    return time.perf_counter() - start


async def _timed_appends_to(store: EventStore, stream: str, count: int) -> float:
    """Seconds taken by one task appending `count` single events to `stream`."""
    start = time.perf_counter()
    for n in range(count):
        await store.append(stream, [_new(n)])
    return time.perf_counter() - start


async def _writes(root: Path, singles: int, hundreds: int, long_stream: int) -> Figures:
    # One file per measurement on both sides, so that each sees its own WAL checkpoints.
    raw_one, raw_hundred = _RawWriter(root / "raw1.db"), _RawWriter(root / "raw100.db")
    raw_threaded = _RawWriter(root / "raw1thread.db")
    incumbent = (
        peers.Incumbent(root / "eventsourcing.db", _data, _metadata) if peers.available() else None
    )
    seconds = dict.fromkeys(
        ("raw1", "raw1thread", "raw100", "eb1", "eb1long", "eb8", "eb100", "es1", "es100"), 0.0
    )
    thread = ThreadPoolExecutor(1)
    async with (
        await SQLiteEventStore.open(root / "eb1.db", synchronous=SYNCHRONOUS) as one,
        await SQLiteEventStore.open(root / "eblong.db", synchronous=SYNCHRONOUS) as long,
        await SQLiteEventStore.open(root / "eb8.db", synchronous=SYNCHRONOUS) as eight,
        await SQLiteEventStore.open(root / "eb100.db", synchronous=SYNCHRONOUS) as hundred,
    ):
        for n in range(0, long_stream, 1000):  # an append must not cost more as streams grow
            await long.append("long-1", [_new(n + k) for k in range(1000)])
        for _ in range(ROUNDS):
            seconds["raw1"] += raw_one.transactions(singles, 1)
            seconds["raw1thread"] += await raw_threaded.transactions_on_a_thread(singles, thread)
            seconds["eb1"] += await _timed_appends(one, singles, 1, 1)
            if incumbent is not None:
                seconds["es1"] += incumbent.appends(singles, 1)
            seconds["eb1long"] += await _timed_appends_to(long, "long-1", singles)
            seconds["eb8"] += await _timed_appends(eight, singles * 4, 8, 1)
            seconds["raw100"] += raw_hundred.transactions(hundreds, 100)
            seconds["eb100"] += await _timed_appends(hundred, hundreds, 1, 100)
            if incumbent is not None:
                seconds["es100"] += incumbent.appends(hundreds, 100)
    thread.shutdown()
    for raw in (raw_one, raw_threaded, raw_hundred):
        raw.connection.close()
    figures: Figures = {}
    if incumbent is not None:
        incumbent.close()
        figures["eventsourcing_append_1_per_s"] = ROUNDS * singles / seconds["es1"]
        figures["eventsourcing_append_100_events_per_s"] = (
            ROUNDS * hundreds * 100 / seconds["es100"]
        )
    return figures | {
        "raw_tx_1_row_per_s": ROUNDS * singles / seconds["raw1"],
        "raw_tx_1_row_on_a_thread_per_s": ROUNDS * singles / seconds["raw1thread"],
        "eventbook_append_1_task_per_s": ROUNDS * singles / seconds["eb1"],
        "eventbook_append_1_task_long_stream_per_s": ROUNDS * singles / seconds["eb1long"],
        "eventbook_append_8_tasks_per_s": ROUNDS * singles * 4 / seconds["eb8"],
        "raw_tx_100_rows_rows_per_s": ROUNDS * hundreds * 100 / seconds["raw100"],
        "eventbook_append_100_events_per_s": ROUNDS * hundreds * 100 / seconds["eb100"],
    }


# -- reading ------------------------------------------------------------------------------


async def _reads(path: Path, total: int, stream_total: int) -> Figures:
    """Fill a store with `total` events, `stream_total` of them in one interleaved stream."""
    async with await SQLiteEventStore.open(path, synchronous=SYNCHRONOUS) as store:
        rounds = stream_total // 100
        others = (total - stream_total) // rounds
        for r in range(rounds):
            await store.append(f"order-{r}", [_new(n) for n in range(others)])
            await store.append("big-1", [_new(n) for n in range(100)])
        events = rounds * (others + 100)
        connection = _raw_connection(path)
        incumbent = None
        if peers.available():  # the same events, in the same order, in the incumbent's store
            incumbent = peers.Incumbent(path.with_name("eventsourcing-read.db"), _data, _metadata)
            big = incumbent.streams[0]
            for r in range(rounds):
                incumbent.append(incumbent.streams[1 + r % 49], r, others)
                incumbent.append(big, r, 100)

        async def read_all() -> int:
            return sum([1 async for _ in store.read_all()])

        async def read_stream() -> int:
            return sum([1 async for _ in store.read_stream("big-1")])

        best = dict.fromkeys(("raw_all", "eb_all", "raw_stream", "eb_stream"), float("inf"))
        for _ in range(ROUNDS):
            _best(best, "raw_all", events, lambda: _raw_read_all(connection))
            await _best_async(best, "eb_all", events, read_all)
            if incumbent is not None:
                _best(best, "es_all", events, incumbent.read_all)
            _best(best, "raw_stream", rounds * 100, lambda: _raw_read_stream(connection, "big-1"))
            await _best_async(best, "eb_stream", rounds * 100, read_stream)
            if incumbent is not None:
                _best(best, "es_stream", rounds * 100, lambda: incumbent.read_stream(big))
        connection.close()
    figures: Figures = {}
    if incumbent is not None:
        incumbent.close()
        figures["eventsourcing_read_all_events_per_s"] = events / best["es_all"]
        figures["eventsourcing_read_stream_10k_s"] = best["es_stream"]
    return figures | {
        "raw_read_all_events_per_s": events / best["raw_all"],
        "eventbook_read_all_events_per_s": events / best["eb_all"],
        "raw_read_stream_10k_s": best["raw_stream"],
        "eventbook_read_stream_10k_s": best["eb_stream"],
    }


async def _short_reads(path: Path) -> Figures:
    """The latency of reading a 10-event stream (an aggregate's load), reads on the event
    loop's thread (the default) beside reads on reader threads: for reference, no target."""
    async with await SQLiteEventStore.open(path, synchronous=SYNCHRONOUS) as store:
        await store.append("order-1", [_new(n) for n in range(10)])
    figures: Figures = {}
    for name, readers in (("loop", 0), ("reader_threads", 2)):
        async with await SQLiteEventStore.open(path, readers=readers) as store:
            taken = []
            for _ in range(500):
                start = time.perf_counter()
                events = [e async for e in store.read_stream("order-1")]
                taken.append(time.perf_counter() - start)
                assert len(events) == 10
        figures[f"eventbook_read_stream_10_events_{name}_s"] = statistics.median(taken)
    return figures


def _best(best: dict[str, float], key: str, expected: int, read: Callable[[], int]) -> None:
    start = time.perf_counter()
    count = read()
    best[key] = min(best.get(key, float("inf")), time.perf_counter() - start)
    assert count == expected, (key, count, expected)


async def _best_async(
    best: dict[str, float], key: str, expected: int, read: Callable[[], Awaitable[int]]
) -> None:
    start = time.perf_counter()
    count = await read()
    best[key] = min(best[key], time.perf_counter() - start)
    assert count == expected, (key, count, expected)


def _raw_read_all(connection: sqlite3.Connection) -> int:
    query = (
        "SELECT position, document FROM eventbook_events"
        " WHERE position > ? ORDER BY position LIMIT 1000"
    )
    count, after = 0, 0
    while True:
        rows = connection.execute(query, (after,)).fetchall()
        for position, document in rows:
            _decode(document)
            after = position
        count += len(rows)
        if len(rows) < 1000:
            return count


def _raw_read_stream(connection: sqlite3.Connection, stream: str) -> int:
    query = (
        "SELECT version, document FROM eventbook_events"
        " WHERE stream = ? AND version >= ? ORDER BY version LIMIT 1000"
    )
    count, start = 0, 1
    while True:
        rows = connection.execute(query, (stream, start)).fetchall()
        for version, document in rows:
            _decode(document)
            start = version + 1
        count += len(rows)
        if len(rows) < 1000:
            return count
