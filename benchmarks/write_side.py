"""The write side against the raw driver and against the store itself, in the same run.

    python -m benchmarks.write_side --backend sqlite --runs 3 --json
    python -m benchmarks.write_side --backend postgres --runs 3 --json

- Loading a 10,000-event aggregate (plus 50 events after the last snapshot point) without
  snapshots, beside the raw driver fetching and JSON-decoding the same rows (and, for
  reference, beside the store's own `read_stream` of them).
- The same load with a snapshot every 100 events: the newest snapshot and at most 99
  later events.
- End-to-end commands (validate, load, decide, append one event, through `CommandBus`)
  on existing aggregates from 8 concurrent tasks, beside the store appending one event
  per call from 8 tasks (the store's own rate, measured in the same run) — once with
  plain repositories (a read and an append per command) and once with a state cache
  (an append per command; the read is skipped while the cached state is current).
  For reference, the same commands written by hand against the store (read the stream,
  convert and apply each event, check, append with the expected version: no bus, no
  metadata, no repository): what the store alone allows a command, telling eventbook's
  share of the cost from the store's.

Each rate comes with the client's CPU time per call (`*_cpu_us`, the process's CPU time
over the round): commands are bound by the event loop's one thread, so the hand-written
commands' CPU per command against eventbook's (and the store's single appends' against
cached commands') tells what eventbook adds, whatever the machine's load does to rates.

Within a run, the workloads alternate; a load time is the best of its repetitions and a
rate (or CPU time) the median of its rounds. The report gives the medians across runs. `--scale 0.1`
makes a quick smoke run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec

import eventbook
from benchmarks.common import Figures, Target, arguments, repeat, report, stopwatch, summarise
from eventbook import (
    Aggregate,
    CommandBus,
    EventRegistry,
    EventStore,
    NewEvent,
    Repository,
    aggregate_handler,
    snapshot_every,
)

BACKENDS = ("sqlite", "postgres")

TARGETS = [
    Target(
        "load 10k events vs raw fetch+decode (time)",
        "eventbook_load_10k_s",
        "raw_fetch_decode_10k_s",
        at_most=1.5,
    ),
    Target(
        "load with snapshots every 100 vs without (time)",
        "eventbook_load_10k_with_snapshots_s",
        "eventbook_load_10k_s",
        at_most=0.1,
    ),
    Target(
        "commands, 8 tasks vs store appends, 8 tasks",
        "eventbook_commands_8_tasks_per_s",
        "store_append_1_event_8_tasks_per_s",
        at_least=0.6,
    ),
    Target(
        "commands with a state cache vs store appends",
        "eventbook_commands_8_tasks_cached_per_s",
        "store_append_1_event_8_tasks_per_s",
        at_least=0.6,
    ),
    # Client CPU: the event loop's one thread bounds commands, so what a command costs the
    # client beside what the same work costs written by hand is the share eventbook adds.
    Target(
        "client CPU per command: hand-written vs eventbook (uncached)",
        "hand_written_commands_8_tasks_cpu_us",
        "eventbook_commands_8_tasks_cpu_us",
        at_least=0.7,
    ),
    Target(
        "client CPU per command: store append vs eventbook (cached)",
        "store_append_1_event_8_tasks_cpu_us",
        "eventbook_commands_8_tasks_cached_cpu_us",
        at_least=0.8,
    ),
]

TASKS = 8
AGGREGATES_PER_TASK = 25
EVENTS_PER_AGGREGATE = 10
ROUNDS = 3
LOAD_REPETITIONS = 7

# -- the domain measured -----------------------------------------------------------------


class LineAdded(msgspec.Struct, frozen=True):
    sku: str
    qty: int
    price: float
    note: str


class AddLine(msgspec.Struct, frozen=True):
    basket: str
    sku: str
    qty: int
    price: float


class Basket(Aggregate[LineAdded]):
    """A basket whose state is a few numbers and a quantity per SKU."""

    def __init__(self) -> None:
        super().__init__()
        self.lines = 0
        self.total = 0.0
        self.quantities: dict[str, int] = {}

    def add(self, sku: str, qty: int, price: float) -> None:
        if qty < 1:
            raise eventbook.DomainError("a line needs a quantity")
        self.record(LineAdded(sku, qty, price, "gift wrap, leave at the door"))

    def apply(self, event: LineAdded) -> None:
        self.lines += 1
        self.total += event.qty * event.price
        self.quantities[event.sku] = self.quantities.get(event.sku, 0) + event.qty

    def to_snapshot(self) -> dict[str, Any]:
        return {"lines": self.lines, "total": self.total, "quantities": self.quantities}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.lines, self.total = state["lines"], state["total"]
        self.quantities = dict(state["quantities"])


def _line(n: int) -> tuple[str, int, float]:
    return f"SKU-{n % 20:02d}", 1 + n % 3, 9.99 + n % 7


RawLoad = Callable[[str], Awaitable[int]]
"""Fetches one stream's rows with the raw driver and decodes them; returns the row count."""


# -- backends ----------------------------------------------------------------------------


@asynccontextmanager
async def sqlite_backend() -> AsyncIterator[tuple[EventStore, RawLoad]]:
    with tempfile.TemporaryDirectory(prefix="eventbook-write-bench-") as folder:
        path = Path(folder) / "events.db"
        store = await eventbook.connect(f"sqlite:///{path}")
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = WAL")
        decode = msgspec.json.Decoder(dict[str, Any]).decode
        query = (
            "SELECT version, document FROM eventbook_events"
            " WHERE stream = ? AND version >= ? ORDER BY version LIMIT 1000"
        )

        async def raw_load(stream: str) -> int:
            count, start = 0, 1
            while True:
                rows = connection.execute(query, (stream, start)).fetchall()
                for version, document in rows:
                    decode(document)
                    start = version + 1
                count += len(rows)
                if len(rows) < 1000:
                    return count

        try:
            yield store, raw_load
        finally:
            connection.close()
            await store.close()


@asynccontextmanager
async def postgres_backend() -> AsyncIterator[tuple[EventStore, RawLoad]]:
    import asyncpg

    from benchmarks.store_postgres import server_url
    from eventbook._backends.postgres.connection import prepare_connection

    url = server_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    store = await eventbook.connect(f"{url}{'&' if '?' in url else '?'}schema={schema}")
    raw = await asyncpg.connect(url)
    await prepare_connection(raw)
    query = (
        "SELECT id, stream, version, type, data, metadata, recorded_at"
        f' FROM "{schema}".events WHERE stream = $1 ORDER BY version'
    )

    async def raw_load(stream: str) -> int:
        return len(await raw.fetch(query, stream))  # jsonb decoded by the connection's codec

    try:
        yield store, raw_load
    finally:
        await raw.close()
        await store.close()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


# -- measurements ------------------------------------------------------------------------


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    with stopwatch() as elapsed:
        await work()
    return elapsed()


async def loads(store: EventStore, raw_load: RawLoad, scale: float) -> Figures:
    """Load one long stream with and without snapshots, and with the raw driver."""
    events = EventRegistry([LineAdded])
    snapshotted = Repository(store, Basket, events, snapshots=snapshot_every(100))
    plain = Repository(store, Basket, events)
    hundreds = max(10, int(100 * scale))
    basket = snapshotted.new("basket-big")
    n = 0
    for _ in range(hundreds):  # 100 events per save: a snapshot after each
        for _ in range(100):
            basket.add(*_line(n))
            n += 1
        await snapshotted.save(basket)
    for _ in range(50):  # then 50 events after the newest snapshot
        basket.add(*_line(n))
        n += 1
        await snapshotted.save(basket)
    total = hundreds * 100 + 50
    assert snapshotted.snapshot_stats.taken == hundreds
    assert snapshotted.snapshot_stats.failed == 0

    async def load_plain() -> None:
        loaded = await plain.load("basket-big")
        assert loaded.version == total

    async def load_snapshotted() -> None:
        loaded = await snapshotted.load("basket-big")
        assert (loaded.version, loaded.lines) == (total, total)

    async def load_raw() -> None:
        assert await raw_load("basket-big") == total

    async def read_events() -> None:  # the store alone, for telling its share from ours
        count = 0
        async for _ in store.read_stream("basket-big"):
            count += 1
        assert count == total

    for warm in (load_raw, read_events, load_plain, load_snapshotted):
        await warm()
    # Alternated, so that a busy moment weighs on each; the best time of each is the one
    # least disturbed by other work on the machine.
    times: dict[str, list[float]] = {}
    for _ in range(LOAD_REPETITIONS):
        for name, work in (
            ("raw_fetch_decode_10k_s", load_raw),
            ("store_read_stream_10k_s", read_events),
            ("eventbook_load_10k_s", load_plain),
            ("eventbook_load_10k_with_snapshots_s", load_snapshotted),
        ):
            times.setdefault(name, []).append(await _timed(work))
    return {name: min(taken) for name, taken in times.items()}


async def throughput(store: EventStore, scale: float) -> Figures:
    """Commands per second end to end, and the store's own single-event appends per second.

    Commands run twice: through a repository without a state cache (each command reads its
    aggregate's events), and through one with a state cache that created the aggregates,
    as in a service that owns them (each command acts on the cached state; the append's
    expected version guards against staleness).
    """
    events = EventRegistry([LineAdded])
    names = [f"{t}-{a}" for t in range(TASKS) for a in range(AGGREGATES_PER_TASK)]
    plain = Repository(store, Basket, events)
    cached = Repository(store, Basket, events, cache_size=len(names))
    for name in names:  # existing aggregates, and streams of the same size for the store
        for prefix, repository in (
            ("basket", plain),
            ("cached", cached),
            ("plain", plain),
            ("by-hand", plain),
        ):
            basket = repository.new(f"{prefix}-{name}")
            for n in range(EVENTS_PER_AGGREGATE):
                basket.add(*_line(n))
            await repository.save(basket)
    per_task = max(10, int(100 * scale))  # per task and round
    data = msgspec.to_builtins(LineAdded(*_line(1), "gift wrap, leave at the door"))
    metadata = {"schema_version": 1, "actor": "bench", "correlation_id": str(uuid.uuid4())}
    versions = {
        (t, a): EVENTS_PER_AGGREGATE for t in range(TASKS) for a in range(AGGREGATES_PER_TASK)
    }

    async def appending(task: int) -> None:
        for n in range(per_task):
            a = n % AGGREGATES_PER_TASK
            event = NewEvent("LineAdded", data, dict(metadata))
            result = await store.append(f"plain-{task}-{a}", [event], expected=versions[task, a])
            versions[task, a] = result.version

    def bus_for(prefix: str, baskets: Repository[Basket]) -> CommandBus:
        bus = CommandBus(store)
        bus.register(
            AddLine,
            aggregate_handler(
                baskets,
                stream=lambda command: f"{prefix}-{command.basket}",
                act=lambda basket, command: basket.add(command.sku, command.qty, command.price),
            ),
        )
        return bus

    async def by_hand(stream: str, sku: str, qty: int, price: float) -> None:
        basket, version = Basket(), 0
        async for page in store.read_stream_pages(stream):
            for event in page:
                basket.apply(msgspec.convert(event.data, LineAdded))
            version = page[-1].version
        if qty < 1:
            raise eventbook.DomainError("a line needs a quantity")
        added = msgspec.to_builtins(LineAdded(sku, qty, price, "gift wrap, leave at the door"))
        await store.append(stream, [NewEvent("LineAdded", added, {"schema_version": 1})], version)

    async def commanding_by_hand(task: int) -> None:
        for n in range(per_task):
            await by_hand(f"by-hand-{task}-{n % AGGREGATES_PER_TASK}", *_line(n))

    async def commanding(bus: CommandBus, task: int) -> None:
        for n in range(per_task):
            sku, qty, price = _line(n)
            await bus.dispatch(AddLine(f"{task}-{n % AGGREGATES_PER_TASK}", sku, qty, price))

    async def rate(work: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
        """Calls per second, and the client's CPU time per call in microseconds."""
        cpu = time.process_time()
        with stopwatch() as elapsed:
            await asyncio.gather(*(work(t) for t in range(TASKS)))
        calls = TASKS * per_task
        return calls / elapsed(), (time.process_time() - cpu) / calls * 1e6

    plain_bus, cached_bus = bus_for("basket", plain), bus_for("cached", cached)
    # Rounds alternate the three workloads, so that a busy moment of the machine weighs on
    # all of them; each figure is the median of its rounds.
    rounds: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        for name, work in (
            ("store_append_1_event_8_tasks_per_s", appending),
            ("eventbook_commands_8_tasks_per_s", lambda t: commanding(plain_bus, t)),
            ("eventbook_commands_8_tasks_cached_per_s", lambda t: commanding(cached_bus, t)),
            ("hand_written_commands_8_tasks_per_s", commanding_by_hand),
        ):
            per_s, cpu_us = await rate(work)
            rounds.setdefault(name, []).append(per_s)
            rounds.setdefault(name.replace("_per_s", "_cpu_us"), []).append(cpu_us)
    figures = {name: statistics.median(rates) for name, rates in rounds.items()}
    last = AGGREGATES_PER_TASK - 1
    expected = EVENTS_PER_AGGREGATE + ROUNDS * len(range(last, per_task, AGGREGATES_PER_TASK))
    for prefix in ("basket", "cached", "by-hand"):
        assert (await plain.load(f"{prefix}-{names[-1]}")).version == expected
    assert cached.cache is not None
    assert cached.cache.misses == 0
    return figures


async def one_run(backend: str, scale: float) -> Figures:
    opened = sqlite_backend() if backend == "sqlite" else postgres_backend()
    figures: Figures = {}
    async with opened as (store, raw_load):
        figures.update(await loads(store, raw_load, scale))
        figures.update(await throughput(store, scale))
    return figures


def main() -> None:
    parser = arguments(__doc__, BACKENDS)
    args = parser.parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.backend, args.scale)))
    report(summarise(f"write_side/{args.backend}", runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
