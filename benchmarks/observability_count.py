"""The commands of `benchmarks.observability` alone, one kind per process: run it under
valgrind to count what the instruments add per command, a run of 0 commands subtracted.

    PYTHONHASHSEED=0 valgrind --tool=cachegrind --cache-sim=no \\
        .venv/bin/python -m benchmarks.observability_count observed 800
    (the same with 0 commands, and with `plain`; then (I_800 - I_0) / 800 per kind)

Kinds: `plain`; `observed` (store, bus and repository); `bus`, `repository`, `append`,
`pages` (one part attached alone: the bus's watch, the repository's, the store's append,
the port's stream-page timing). Instruction counts do not depend on the machine's other
work, as CPU-time rates do: they tell a few percent apart where the benchmark's rounds
cannot. On the SQLite store (a file; 8 tasks; 50 aggregates of 10 events each per task).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

import eventbook
from benchmarks import observability as bench
from benchmarks.write_side import AddLine
from eventbook import CommandBus, EventStore
from eventbook.observability import Observability
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._store import _Observed

KINDS = ("plain", "observed", "bus", "repository", "append", "pages")
AGGREGATES = 50  # per task
WARM = 20  # commands per task before the counted ones


_RECORDED = {  # what each kind records once per command, and its labels
    "observed": ("eventbook_command_duration_seconds_count", {"command_type": "AddLine"}),
    "bus": ("eventbook_command_duration_seconds_count", {"command_type": "AddLine"}),
    "repository": ("eventbook_aggregate_load_duration_seconds_count", {"aggregate": "Basket"}),
    "append": ("eventbook_append_duration_seconds_count", {"backend": "sqlite"}),
    "pages": ("eventbook_read_duration_seconds_count", {"backend": "sqlite", "read": "stream"}),
}


def _observed_bus(kind: str, store: EventStore) -> tuple[CommandBus, Callable[[], float]]:
    """The bus with `kind` attached, and how many commands that part has recorded."""
    registry = CollectorRegistry()
    if kind == "plain":
        return bench._bus(store, None), lambda: 0.0
    name, labels = _RECORDED[kind]
    if kind in ("observed", "bus"):
        labels = {**labels, "outcome": "ok"}

    def recorded() -> float:
        return registry.get_sample_value(name, labels) or 0.0

    if kind in ("observed", "bus", "repository"):
        obs = Observability(registry)
        return bench._bus(store, obs, bench.PARTS if kind == "observed" else (kind,)), recorded
    # One of the store's two hooks alone, as `observe_store` sets them.
    observed = _Observed(store, EventbookMetrics(registry))
    if kind == "append":
        vars(store)["append"] = observed.append_events
    else:
        assert observed.series is not None
        vars(store)["_page_times"] = observed.series.read_stream
    return bench._bus(store, None), recorded


async def count(kind: str, commands: int) -> None:
    bench.AGGREGATES_PER_TASK = AGGREGATES
    with tempfile.TemporaryDirectory(prefix="eventbook-obs-count-") as folder:
        store = await eventbook.connect(f"sqlite:///{Path(folder) / 'events.db'}")
        try:
            await bench._seed_baskets(store)
            bus, recorded = _observed_bus(kind, store)

            async def commanding(task: int, how_many: int) -> None:
                for n in range(how_many):
                    sku, qty, price = bench._line(n)
                    basket = f"{task}-{n % AGGREGATES}"
                    await bus.dispatch(AddLine(basket, sku, qty, price))

            await asyncio.gather(*(commanding(task, WARM) for task in range(bench.TASKS)))
            per_task = commands // bench.TASKS
            await asyncio.gather(*(commanding(task, per_task) for task in range(bench.TASKS)))
            print(f"{kind}: {bench.TASKS * (WARM + per_task)} commands, {recorded():.0f} recorded")
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("commands", type=int, help="commands counted (a multiple of 8), or 0")
    args = parser.parse_args()
    asyncio.run(count(args.kind, args.commands))


if __name__ == "__main__":
    main()
