"""Without an SDK the bus and the repository watch commands and loads in their own calls
(no coroutine of the observer's): outcomes, conflicts, replayed events and page reads
still reach their series, and no command scope is left current afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import asyncio
import pytest

import eventbook
from eventbook import (
    NO_STREAM,
    CommandBus,
    CommandContext,
    NewEvent,
    Repository,
)
from eventbook.observability import Observability, tracing_configured
from eventbook.observability._scope import command_scope
from tests.unit.write_domain import Order, PlaceOrder, ShipOrder, order_events, stream_of


async def main() -> None:
    assert not tracing_configured()
    store = await eventbook.connect("memory://")
    obs = Observability()
    obs.store(store)
    orders = obs.repository(Repository(store, Order, order_events()))
    bus = obs.bus(CommandBus(store))
    tries: list[int] = []

    async def conflicting(command: ShipOrder, context: CommandContext) -> None:
        # The first attempt expects no stream where there is one: a conflict, then a retry.
        tries.append(context.attempt)
        expected = NO_STREAM if context.attempt == 1 else eventbook.ANY
        await store.append("side-1", [NewEvent("Noted", {})], expected=expected)

    async def failing(command: PlaceOrder, context: CommandContext) -> None:
        await orders.load(stream_of(command))  # replays the order's three events
        raise RuntimeError("broken handler")

    bus.register(ShipOrder, conflicting)
    bus.register(PlaceOrder, failing)
    await store.append("side-1", [NewEvent("Noted", {})])
    await store.append("order-1", [NewEvent("OrderPlaced", {"customer": "ann", "total": 1})])
    await store.append("order-1", [NewEvent("OrderShipped", {"carrier": "DHL"})])
    await store.append("order-1", [NewEvent("OrderShipped", {"carrier": "UPS"})])

    await bus.dispatch(ShipOrder("1", "DHL"))
    with pytest.raises(RuntimeError):
        await bus.dispatch(PlaceOrder("1", "ann", 10))

    def sample(name: str, **labels: str) -> float | None:
        return obs.registry.get_sample_value(name, labels)

    assert tries == [1, 2]
    assert sample("eventbook_append_conflicts_total", backend="memory") == 1
    seconds = "eventbook_command_duration_seconds_count"
    assert sample(seconds, command_type="ShipOrder", outcome="conflict_retried") == 1
    assert sample(seconds, command_type="PlaceOrder", outcome="failed") == 1
    assert sample("eventbook_aggregate_load_duration_seconds_count", aggregate="Order") == 1
    assert sample("eventbook_aggregate_load_events_sum", aggregate="Order") == 3
    assert sample("eventbook_read_duration_seconds_count", backend="memory", read="stream") == 1
    assert command_scope.get() is None
    await store.close()


asyncio.run(main())
"""


def test_conflicts_failures_and_replays_are_counted_on_the_cheap_path() -> None:
    # In a process of its own: other tests install an SDK for good (no cheap path then).
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", _SCRIPT], check=True, cwd=ROOT, env=env)
