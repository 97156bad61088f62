"""What `eventbook.observability` costs with no OpenTelemetry SDK installed, in the same run.

    python -m benchmarks.observability --backend sqlite --runs 3 --json
    python -m benchmarks.observability --backend postgres --runs 3 --json

With opentelemetry-api alone (no tracer provider configured, the default), every span is
the API's no-op span; what remains is the Prometheus instruments and the wrappers around
the store, the bus, the repository and the projection. Measured beside the same work
without them:

- commands: `AddLine` through `CommandBus` (validate, load, decide, append one event) on
  existing aggregates from 8 concurrent tasks, once on a plain store, bus and repository
  and once on a second store of the same shape with `Observability` attached to all three;
- projection catch-up: a projection writing one row per event, from the first event to
  the head, once plain and once instrumented (`obs.store`, `obs.projections`,
  `on_batch=obs.on_batch`), reading the same events.

Rounds alternate the plain and the observed workload (ABBA, so neither always goes first);
a rate is the median of its rounds; a ratio is the median over pairs of rounds (one of each
order) of the pair's geometric mean (see `paired`); the report gives medians across runs.
Target: each observed rate at least 0.97 of the plain one (overhead under 3 %).
`--control` attaches nothing to the "observed" side either: its ratios show how far the
pairing itself strays from 1 on this machine. `--scale 0.1` makes a quick smoke run.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import eventbook
from benchmarks.common import Figures, Target, arguments, repeat, report, summarise
from benchmarks.projections import fill, open_read_db, rows_projection
from benchmarks.write_side import AddLine, Basket, LineAdded
from eventbook import CommandBus, EventRegistry, EventStore, Repository, aggregate_handler
from eventbook.observability import Observability, tracing_configured
from eventbook.projections import (
    Projection,
    ProjectionDatabase,
    ProjectionRunner,
    RunnerSettings,
    SqlBatch,
    reset_projection,
    setup_projection,
)

BACKENDS = ("sqlite", "postgres")
_control = [False]  # --control: the "observed" side left plain too
TASKS = 8
AGGREGATES_PER_TASK = 125  # a round adds one event to each: loads stay alike
EVENTS_PER_AGGREGATE = 10
COMMANDS_PER_TASK = 125  # per round
CATCH_UP_EVENTS = 50_000
BATCH = 1000
ROUNDS = 10  # per run, alternated ABBA: an even number, so that rounds pair up

TARGETS = [
    Target(
        "commands observed/plain (paired) vs parity",
        "commands_observed_vs_plain",
        "parity",
        at_least=0.97,
    ),
    Target(
        "catch-up observed/plain (paired) vs parity",
        "catch_up_observed_vs_plain",
        "parity",
        at_least=0.97,
    ),
]


def _line(n: int) -> tuple[str, int, float]:
    return f"SKU-{n % 20:02d}", 1 + n % 3, 9.99 + n % 7


async def alternated(
    name: str,
    work: Callable[[str], Awaitable[int]],
    before: Callable[[str], Awaitable[None]] | None = None,
) -> Figures:
    """Rounds of plain and observed work, the order swapped every round (ABBA: neither
    always goes first). Each round is timed by the wall clock and by the process's CPU
    time; the ratio of one round's two CPU rates is the overhead's measure, since other
    processes on the machine stretch wall times far more than they stretch CPU time.
    `before` prepares a round, untimed."""
    for kind in ("plain", "observed"):  # warm both: caches, prepared statements
        if before is not None:
            await before(kind)
        await work(kind)
    wall: dict[str, list[float]] = {"plain": [], "observed": []}
    cpu: dict[str, list[float]] = {"plain": [], "observed": []}
    for n in range(ROUNDS):
        for kind in ("plain", "observed") if n % 2 == 0 else ("observed", "plain"):
            if before is not None:
                await before(kind)
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            done = await work(kind)
            wall[kind].append(done / (time.perf_counter() - wall_started))
            cpu[kind].append(done / (time.process_time() - cpu_started))
    stem = name.removesuffix("_per_s").removesuffix("_eps")
    return {
        f"plain_{name}": statistics.median(wall["plain"]),
        f"observed_{name}": statistics.median(wall["observed"]),
        f"plain_{name}_cpu": statistics.median(cpu["plain"]),
        f"observed_{name}_cpu": statistics.median(cpu["observed"]),
        f"{stem}_observed_vs_plain": paired(cpu),
        f"{stem}_observed_vs_plain_wall": paired(wall),
        f"{stem}_observed_vs_plain_single_rounds": statistics.median(by_round(cpu)),
        "parity": 1.0,
    }


def by_round(rates: dict[str, list[float]]) -> list[float]:
    """Each round's observed/plain ratio."""
    return [o / p for o, p in zip(rates["observed"], rates["plain"], strict=True)]


def paired(rates: dict[str, list[float]]) -> float:
    """The median over ABBA pairs of rounds of the geometric mean of their two ratios.

    The side that runs second in a round can run several percent slower (SQLite catch-up:
    about 10 %, whichever side it is), so single rounds' ratios fall in two clusters, one
    per order, and their median (`..._single_rounds`, kept for comparison) lands anywhere
    between them. A pair of rounds holds both orders: its geometric mean cancels the
    order's effect."""
    ratios = by_round(rates)
    return statistics.median(
        math.sqrt(first * second) for first, second in zip(ratios[::2], ratios[1::2], strict=True)
    )


# -- commands ----------------------------------------------------------------------------


PARTS = ("store", "bus", "repository")


def _bus(
    store: EventStore, obs: Observability | None, parts: tuple[str, ...] = PARTS
) -> CommandBus:
    """The bus of `AddLine`; with `obs`, the `parts` of it observed."""
    baskets = Repository(store, Basket, EventRegistry([LineAdded]))
    bus = CommandBus(store)
    if obs is not None:
        if "store" in parts:
            obs.store(store)
        if "bus" in parts:
            obs.bus(bus)
        if "repository" in parts:
            obs.repository(baskets)
    bus.register(
        AddLine,
        aggregate_handler(
            baskets,
            stream=lambda command: f"basket-{command.basket}",
            act=lambda basket, command: basket.add(command.sku, command.qty, command.price),
        ),
    )
    return bus


async def _seed_baskets(store: EventStore) -> None:
    baskets = Repository(store, Basket, EventRegistry([LineAdded]))
    for task in range(TASKS):
        for a in range(AGGREGATES_PER_TASK):
            basket = baskets.new(f"basket-{task}-{a}")
            for n in range(EVENTS_PER_AGGREGATE):
                basket.add(*_line(n))
            await baskets.save(basket)


async def commands(plain_store: EventStore, observed_store: EventStore, scale: float) -> Figures:
    """Commands per second from 8 tasks, plain and observed, rounds alternated; the two
    stores are two connections to the same events, so both act on the same aggregates."""
    await _seed_baskets(plain_store)  # one set of aggregates, which both commands act on
    obs = Observability()
    attached = None if _control[0] else obs
    buses = {"plain": _bus(plain_store, None), "observed": _bus(observed_store, attached)}
    per_task = max(10, int(COMMANDS_PER_TASK * scale))

    async def commanding(bus: CommandBus, task: int) -> None:
        for n in range(per_task):
            sku, qty, price = _line(n)
            await bus.dispatch(AddLine(f"{task}-{n % AGGREGATES_PER_TASK}", sku, qty, price))

    async def work(kind: str) -> int:
        await asyncio.gather(*(commanding(buses[kind], task) for task in range(TASKS)))
        return TASKS * per_task

    figures = await alternated("commands_per_s", work)
    counted = obs.registry.get_sample_value(
        "eventbook_command_duration_seconds_count", {"command_type": "AddLine", "outcome": "ok"}
    )
    assert counted or _control[0], "the observed bus recorded no command: nothing attached"
    return figures


# -- projection catch-up -----------------------------------------------------------------


async def catch_up(
    plain_store: EventStore,
    observed_store: EventStore,
    database: ProjectionDatabase,
    scale: float,
) -> Figures:
    """Catch-up from the first event to the head, plain and observed, rounds alternated."""
    count = max(BATCH, int(CATCH_UP_EVENTS * scale))
    await fill(plain_store, count)
    head = await plain_store.head()
    assert head is not None
    obs = Observability()
    if not _control[0]:
        obs.store(observed_store)
    built: dict[str, Projection[SqlBatch]] = {
        "plain": rows_projection(database, "bench_plain"),
        "observed": rows_projection(database, "bench_observed"),
    }
    if not _control[0]:
        built["observed"] = obs.projections([built["observed"]])[0]
    settings = RunnerSettings(batch_size=BATCH)
    for projection in built.values():
        await setup_projection(projection)

    runners = {
        "plain": ProjectionRunner(plain_store, built["plain"], settings=settings),
        "observed": ProjectionRunner(
            observed_store,
            built["observed"],
            settings=settings,
            on_batch=None if _control[0] else obs.on_batch,
        ),
    }

    async def reset(kind: str) -> None:
        await reset_projection(built[kind])

    async def work(kind: str) -> int:
        await runners[kind].run(until=head)
        return count

    figures = await alternated("catch_up_eps", work, before=reset)
    for projection in built.values():
        rows = (await database.fetch(f"SELECT count(*) FROM {projection.name}"))[0][0]
        assert rows == count, (projection.name, rows, count)
    handled = obs.registry.get_sample_value(
        "eventbook_projection_events_handled_total",
        {"projection": "bench_observed", "version": "1"},
    )
    assert handled or _control[0], "the observed build recorded nothing: nothing attached"
    return figures


# -- where the events live ---------------------------------------------------------------


@asynccontextmanager
async def _sqlite() -> AsyncIterator[tuple[EventStore, EventStore, ProjectionDatabase]]:
    """Two connections to one event file (plain, observed); read models in the same file."""
    with tempfile.TemporaryDirectory(prefix="eventbook-obs-bench-") as folder:
        path = Path(folder) / "events.db"
        async with AsyncExitStack() as stack:
            plain = await eventbook.connect(f"sqlite:///{path}")
            stack.push_async_callback(plain.close)
            observed = await eventbook.connect(f"sqlite:///{path}")
            stack.push_async_callback(observed.close)
            database = open_read_db(f"sqlite:{path}")
            stack.push_async_callback(database.close)
            await database.setup()
            yield plain, observed, database


@asynccontextmanager
async def _postgres() -> AsyncIterator[tuple[EventStore, EventStore, ProjectionDatabase]]:
    import asyncpg

    from benchmarks.store_postgres import server_url

    url = server_url()
    schema = f"bench_obs_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    store_url = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    try:
        async with AsyncExitStack() as stack:
            plain = await eventbook.connect(store_url)
            stack.push_async_callback(plain.close)
            observed = await eventbook.connect(store_url)
            stack.push_async_callback(observed.close)
            database = open_read_db(f"postgresql:{schema}_read:{url}")
            stack.push_async_callback(database.close)
            await database.setup()
            yield plain, observed, database
    finally:
        for name in (schema, f"{schema}_read"):
            await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await admin.close()


async def one_run(backend: str, scale: float) -> Figures:
    if tracing_configured():
        raise RuntimeError("an OpenTelemetry SDK is configured: this measures the API alone")
    figures: Figures = {}
    for measure in ("commands", "catch_up"):  # a fresh database for each
        where = _sqlite() if backend == "sqlite" else _postgres()
        async with where as (plain_store, observed_store, database):
            if measure == "commands":
                figures |= await commands(plain_store, observed_store, scale)
            else:
                figures |= await catch_up(plain_store, observed_store, database, scale)
    return figures


def main() -> None:
    parser = arguments(__doc__, BACKENDS)
    parser.add_argument(
        "--control", action="store_true", help="attach nothing on either side (the noise)"
    )
    args = parser.parse_args()
    _control[0] = args.control
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.backend, args.scale)))
    name = f"observability/{args.backend}{'/control' if args.control else ''}"
    report(summarise(name, runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
