"""Snapshots: per-aggregate policies, schema tags, and failures that never fail a command."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from eventbook import EventStore, Repository, ValidationError, snapshot_every
from eventbook._backends.memory import MemoryEventStore
from tests.unit.write_domain import (
    Order,
    OrderPlaced,
    PlaceOrder,
    ShipOrder,
    order_decider,
    order_events,
    store,
)

__all__ = ["store"]  # the fixture


class CountingStore(MemoryEventStore):
    """Counts the events each read_stream call returns."""

    def __init__(self) -> None:
        super().__init__()
        self.events_read = 0

    async def _read_stream_page(self, *args: Any) -> Any:
        page = await super()._read_stream_page(*args)
        self.events_read += len(page)
        return page


class Counter(Order):
    """An order whose total counts up: many events in one stream."""

    def bump(self) -> None:
        self.record(OrderPlaced("x", self.total + 1, "EUR"))

    def apply(self, event: Any) -> None:
        self.total = event.total


async def _bumped(orders: Repository[Counter], stream: str, times: int) -> None:
    for _ in range(times):
        counter = await orders.load(stream)
        counter.bump()
        await orders.save(counter)


async def test_every_n_events_and_loads_start_from_the_newest_snapshot() -> None:
    store = CountingStore()
    orders = Repository(store, Counter, order_events(), snapshots=snapshot_every(10))
    await _bumped(orders, "c-1", 25)
    assert orders.snapshot_stats.taken == 2  # at versions 10 and 20
    taken = await store.load_snapshot("c-1", schema="Counter:1")
    assert taken is not None
    assert taken.version == 20
    store.events_read = 0
    counter = await orders.load("c-1")
    assert (counter.version, counter.total) == (25, 25)
    assert store.events_read == 5  # only the events after the snapshot

    # time travel starts from the newest snapshot at or below the version asked for
    store.events_read = 0
    assert (await orders.load("c-1", at_version=15)).total == 15
    assert store.events_read == 5


async def test_a_function_policy_sees_the_aggregate_and_the_events_since(store: EventStore) -> None:
    calls: list[tuple[str, int]] = []

    def when_shipped(order: Order, events_since_snapshot: int) -> bool:
        calls.append((order.status, events_since_snapshot))
        return order.status == "shipped"

    orders = Repository(store, Order, order_events(), snapshots=when_shipped)
    order = await orders.load("order-1")
    order.place("ann", 10)
    await orders.save(order)
    order.ship("DHL")
    await orders.save(order)
    assert calls == [("placed", 1), ("shipped", 2)]
    snapshot = await store.load_snapshot("order-1", schema="Order:1")
    assert snapshot is not None
    assert (snapshot.version, snapshot.state) == (
        2,
        {"status": "shipped", "total": 10, "carrier": "DHL"},
    )


async def test_deciders_snapshot_their_state(store: EventStore) -> None:
    orders = Repository(store, order_decider, order_events(), snapshots=snapshot_every(1))
    order = await orders.load("order-1")
    order.decide(PlaceOrder("1", "ann", 10))
    await orders.save(order)
    snapshot = await store.load_snapshot("order-1", schema="Order:1")
    assert snapshot is not None
    assert snapshot.state == {"state": {"status": "placed", "total": 10, "carrier": None}}
    # a marked snapshot proves the load starts from it
    await store.save_snapshot(
        "order-1",
        1,
        {"state": {"status": "placed", "total": 99, "carrier": None}},
        schema="Order:1",
    )
    assert (await orders.load("order-1")).state.total == 99


async def test_a_new_snapshot_version_retires_old_snapshots(store: EventStore) -> None:
    orders = Repository(store, Order, order_events(), snapshots=snapshot_every(1))
    order = await orders.load("order-1")
    order.place("ann", 10)
    await orders.save(order)
    await store.save_snapshot(
        "order-1", 1, {"status": "placed", "total": 99, "carrier": None}, schema="Order:1"
    )
    assert (await orders.load("order-1")).total == 99  # the (marked) v1 snapshot is used

    class OrderV2(Order):
        snapshot_version = 2
        snapshot_name = "Order"

    newer = Repository(store, OrderV2, order_events(), snapshots=snapshot_every(1))
    assert (await newer.load("order-1")).total == 10  # the v1 snapshot is never read
    order2 = await newer.load("order-1")
    order2.ship("DHL")
    await newer.save(order2)
    assert await store.load_snapshot("order-1", schema="Order:2") is not None


class BrokenSnapshots(MemoryEventStore):
    async def _save_snapshot(self, *args: Any) -> None:
        raise OSError("disk full")


async def test_a_failed_snapshot_is_logged_and_counted_and_the_save_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = BrokenSnapshots()
    orders = Repository(store, Order, order_events(), snapshots=snapshot_every(1))
    order = await orders.load("order-1")
    order.place("ann", 10)
    with caplog.at_level(logging.WARNING, logger="eventbook._write.snapshots"):
        result = await orders.save(order)
    assert result is not None
    assert result.version == 1
    assert orders.snapshot_stats.failed == 1
    assert orders.snapshot_stats.taken == 0
    assert "failed; the command succeeded" in caplog.text
    assert "disk full" in caplog.text
    assert (await orders.load("order-1")).status == "placed"

    class Unencodable(Order):
        def to_snapshot(self) -> dict[str, Any]:
            return {"status": object()}

    odd = Repository(MemoryEventStore(), Unencodable, order_events(), snapshots=snapshot_every(1))
    aggregate = await odd.load("order-2")
    aggregate.place("ann", 1)
    assert await odd.save(aggregate) is not None
    assert odd.snapshot_stats.failed == 1


async def test_an_unreadable_snapshot_falls_back_to_replay(
    store: EventStore, caplog: pytest.LogCaptureFixture
) -> None:
    orders = Repository(store, order_decider, order_events(), snapshots=snapshot_every(100))
    order = await orders.load("order-1")
    order.decide(PlaceOrder("1", "ann", 10))
    await orders.save(order)
    order.decide(ShipOrder("1", "DHL"))
    await orders.save(order)
    await store.save_snapshot("order-1", 1, {"state": {"status": 7}}, schema="Order:1")
    with caplog.at_level(logging.WARNING, logger="eventbook._write.snapshots"):
        state = (await orders.load("order-1")).state
    assert (state.status, state.carrier) == ("shipped", "DHL")
    assert orders.snapshot_stats.unusable == 1
    assert "cannot be restored; replaying the stream" in caplog.text


def test_policy_arguments_are_checked() -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValidationError):
            snapshot_every(bad)  # type: ignore[arg-type]
    assert snapshot_every(3)(None, 3)
    assert not snapshot_every(3)(None, 2)
    with pytest.raises(ValidationError, match="callable"):
        Repository(MemoryEventStore(), Order, order_events(), snapshots=10)  # type: ignore[arg-type]
