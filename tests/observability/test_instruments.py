"""The library's instruments against a real SQLite store and projection database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

import eventbook
from eventbook import (
    CommandBus,
    CommandMetadata,
    EventStore,
    Repository,
    aggregate_handler,
    snapshot_every,
)
from eventbook.observability import TRACEPARENT, Observability
from eventbook.projections import (
    HandlerRetry,
    OnFailure,
    ProjectionDaemon,
    SQLiteDatabase,
    list_parked,
    retry_parked,
)
from tests.projections.models import orders_projection
from tests.unit.write_domain import Order, PlaceOrder, ShipOrder, order_events, stream_of

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[EventStore]:
    store = await eventbook.connect(f"sqlite:///{tmp_path / 'events.db'}")
    yield store
    await store.close()


def observed_bus(obs: Observability, store: EventStore) -> CommandBus:
    orders = obs.repository(Repository(store, Order, order_events(), snapshots=snapshot_every(2)))
    bus = obs.bus(CommandBus(obs.store(store)))
    bus.register(
        PlaceOrder,
        aggregate_handler(orders, stream=stream_of, act=lambda o, c: o.place(c.customer, c.total)),
    )
    bus.register(
        ShipOrder, aggregate_handler(orders, stream=stream_of, act=lambda o, c: o.ship(c.carrier))
    )
    return bus


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_importing_registers_nothing() -> None:
    code = (
        "import prometheus_client, eventbook.observability;"
        "names = [m.name for m in prometheus_client.REGISTRY.collect()];"
        "assert not [n for n in names if n.startswith('eventbook')], names"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={
        "PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"
    })  # fmt: skip


async def test_commands_appends_loads_and_snapshots_are_counted(sqlite_store: EventStore) -> None:
    obs = Observability()
    bus = observed_bus(obs, sqlite_store)
    r = obs.registry
    await bus.dispatch(PlaceOrder("1", "ann", 10), CommandMetadata(command_id="c1"))
    await bus.dispatch(PlaceOrder("1", "ann", 10), CommandMetadata(command_id="c1"))
    with pytest.raises(eventbook.DomainError):
        await bus.dispatch(PlaceOrder("1", "ann", 10))
    await bus.dispatch(ShipOrder("1", "DHL"))

    assert value(r, "eventbook_command_duration_seconds_count", command_type="PlaceOrder",
                 outcome="ok") == 1  # fmt: skip
    assert value(r, "eventbook_command_duration_seconds_count", command_type="PlaceOrder",
                 outcome="duplicate") == 1  # fmt: skip
    assert value(r, "eventbook_command_duration_seconds_count", command_type="PlaceOrder",
                 outcome="rejected") == 1  # fmt: skip
    assert value(r, "eventbook_command_duration_seconds_count", command_type="ShipOrder",
                 outcome="ok") == 1  # fmt: skip
    assert value(r, "eventbook_appended_events_total", backend="sqlite",
                 event_type="OrderPlaced") == 1  # fmt: skip
    assert value(r, "eventbook_appended_events_total", backend="sqlite",
                 event_type="OrderShipped") == 1  # fmt: skip
    assert value(r, "eventbook_append_duration_seconds_count", backend="sqlite") >= 2
    assert value(r, "eventbook_stream_length_events_sum", backend="sqlite") == 1 + 2
    assert value(r, "eventbook_aggregate_load_duration_seconds_count", aggregate="Order") == 4
    # The stream had 2 events after ShipOrder: a snapshot was taken; the next load hits it.
    assert value(r, "eventbook_snapshot_loads_total", backend="sqlite", result="miss") >= 1
    with pytest.raises(eventbook.DomainError):
        await bus.dispatch(ShipOrder("1", "UPS"))
    assert value(r, "eventbook_snapshot_loads_total", backend="sqlite", result="hit") == 1
    assert value(r, "eventbook_aggregate_load_events_sum", aggregate="Order") == 0 + 1 + 1 + 1
    assert b"stream=" not in obs.exposition()[0]  # no stream ids as labels


async def test_a_command_span_holds_its_load_and_append_and_its_events_carry_it(
    sqlite_store: EventStore, spans: InMemorySpanExporter
) -> None:
    obs = Observability(metrics=False)
    bus = observed_bus(obs, sqlite_store)
    await bus.dispatch(PlaceOrder("7", "bo", 3))
    finished = {span.name: span for span in spans.get_finished_spans()}
    command = finished["command PlaceOrder"]
    assert finished["load Order"].parent.span_id == command.context.span_id
    assert finished["eventbook.append"].parent.span_id == finished["load Order"].parent.span_id
    [event] = [e async for e in sqlite_store.read_stream("order-7")]
    assert event.metadata[TRACEPARENT].startswith(
        f"00-{command.context.trace_id:032x}-{command.context.span_id:016x}-"
    )


async def test_a_traced_load_counts_its_replayed_events_in_its_span_and_its_series(
    sqlite_store: EventStore, spans: InMemorySpanExporter
) -> None:
    obs = Observability()
    bus = observed_bus(obs, sqlite_store)
    await bus.dispatch(PlaceOrder("8", "cy", 4))  # loads an empty stream
    await bus.dispatch(ShipOrder("8", "DHL"))  # replays the one event placed
    loads = [span for span in spans.get_finished_spans() if span.name == "load Order"]
    assert [span.attributes["eventbook.events_replayed"] for span in loads] == [0, 1]
    replayed = "eventbook_aggregate_load_events"
    assert value(obs.registry, f"{replayed}_count", aggregate="Order") == 2
    assert value(obs.registry, f"{replayed}_sum", aggregate="Order") == 1


async def test_projection_batches_are_measured_and_continue_the_command_trace(
    sqlite_store: EventStore, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    obs = Observability()
    bus = observed_bus(obs, sqlite_store)
    await bus.dispatch(PlaceOrder("1", "ann", 10))
    database = await SQLiteDatabase.open(tmp_path / "read.db")
    builds = obs.projections([orders_projection(database)])
    try:
        async with ProjectionDaemon(sqlite_store, builds, on_batch=obs.on_batch) as daemon:
            await _until(lambda: value(obs.registry, "eventbook_projection_events_handled_total",
                                       projection="orders", version="1") == 1)  # fmt: skip
            await obs.collect(sqlite_store, builds, runner_states=daemon.states())
    finally:
        await database.close()
    r, build = obs.registry, {"projection": "orders", "version": "1"}
    assert value(r, "eventbook_projection_batch_duration_seconds_count", **build) == 1
    assert value(r, "eventbook_projection_lag_events", **build) == 0
    assert value(r, "eventbook_projection_position", **build) == 1
    assert value(r, "eventbook_projection_lease_held", **build) == 1
    assert value(r, "eventbook_projection_state", state="live", **build) == 1
    finished = {span.name: span for span in spans.get_finished_spans()}
    command = finished["command PlaceOrder"]
    handled = finished["project orders OrderPlaced"]
    assert handled.context.trace_id == command.context.trace_id
    assert handled.parent.span_id == command.context.span_id
    batch = finished["projection batch orders@v1"]
    assert [link.context.trace_id for link in batch.links] == [command.context.trace_id]


async def test_readiness_fails_on_a_halted_projection_and_recovers(
    sqlite_store: EventStore, tmp_path: Path
) -> None:
    obs = Observability()
    bus = observed_bus(obs, sqlite_store)
    poisoned = {"on": True}
    database = await SQLiteDatabase.open(tmp_path / "read.db")
    build = orders_projection(
        database,
        retry=HandlerRetry(max_attempts=1, on_failure=OnFailure.STOP),
        poison=lambda event: poisoned["on"],
    )
    try:
        async with ProjectionDaemon(sqlite_store, [build], on_batch=obs.on_batch):
            await bus.dispatch(PlaceOrder("1", "ann", 10))
            await _until_async(lambda: _not_ready(obs, sqlite_store, build))
            found = await obs.readiness(sqlite_store, [build])
            assert found.failed == ["projection:orders@v1"]
            assert "halted" in found.checks[1].detail
            assert value(obs.registry, "eventbook_projection_stuck", projection="orders",
                         version="1") == 1  # fmt: skip
            poisoned["on"] = False
            [parked] = await list_parked(build)
            await retry_parked(sqlite_store, build, parked.event_id)
            await _until_async(lambda: _ready(obs, sqlite_store, build))
    finally:
        await database.close()


async def _ready(obs: Observability, store: EventStore, build: Any) -> bool:
    return (await obs.readiness(store, [build])).ready


async def _not_ready(obs: Observability, store: EventStore, build: Any) -> bool:
    return not await _ready(obs, store, build)


async def _until(condition: Any, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the condition is a metric, not an event
            await asyncio.sleep(0.02)


async def _until_async(condition: Any, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - polled like a readiness probe
            await asyncio.sleep(0.05)
