"""The state cache: loads read only new events, and stale cached states never decide anything."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import pytest

from eventbook import (
    Aggregate,
    CommandBus,
    ConcurrencyError,
    EventRegistry,
    EventStore,
    Repository,
    RetryPolicy,
    ValidationError,
    aggregate_handler,
)
from eventbook._backends.memory import MemoryEventStore
from eventbook._write.state_cache import StateCache
from tests.unit.write_domain import (
    Order,
    PlaceOrder,
    ShipOrder,
    order_decider,
    order_events,
    store,
    stored_events,
    stream_of,
)

__all__ = ["store"]  # the fixture


class CountingStore(MemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.stream_reads = 0

    async def _read_stream_page(self, *args: Any) -> Any:
        self.stream_reads += 1
        return await super()._read_stream_page(*args)


async def test_a_cached_load_reads_only_the_new_events() -> None:
    store = CountingStore()
    orders = Repository(store, Order, order_events(), cache_size=10)
    order = await orders.load("order-1")
    order.place("ann", 10)
    await orders.save(order)
    assert orders.cache is not None
    assert len(orders.cache) == 1

    other = Repository(store, Order, order_events())  # another writer, not using the cache
    elsewhere = await other.load("order-1")
    elsewhere.ship("DHL")
    await other.save(elsewhere)

    store.stream_reads = 0
    fresh = await orders.load("order-1")  # cached state at v1 + the events after it
    assert (fresh.version, fresh.status, fresh.carrier) == (2, "shipped", "DHL")
    assert store.stream_reads == 1
    assert orders.cache.hits == 1


async def test_unverified_loads_skip_the_store_and_stale_states_cannot_be_saved() -> None:
    store = CountingStore()
    orders = Repository(store, Order, order_events(), cache_size=10)
    order = await orders.load("order-1")
    order.place("ann", 10)
    await orders.save(order)
    other = Repository(store, Order, order_events())
    elsewhere = await other.load("order-1")
    elsewhere.ship("DHL")
    await other.save(elsewhere)

    store.stream_reads = 0
    stale = await orders.load("order-1", verified=False)
    assert store.stream_reads == 0
    assert orders.is_unverified(stale)
    assert (stale.version, stale.status) == (1, "placed")
    assert not await orders.is_current(stale)
    stale.ship("UPS")
    with pytest.raises(ConcurrencyError):
        await orders.save(stale)
    assert [e.type for e in await stored_events(store)] == ["OrderPlaced", "OrderShipped"]

    # the entry is distrusted until a load caught up
    caught_up = await orders.load("order-1", verified=False)
    assert not orders.is_unverified(caught_up)
    assert (caught_up.version, caught_up.status) == (2, "shipped")
    assert store.stream_reads == 1
    trusted = await orders.load("order-1", verified=False)
    assert orders.is_unverified(trusted)
    assert trusted.version == 2


class Switch(Aggregate[Any]):
    """Turning on what is on, or off what is off, changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.on = False

    def turn(self, on: bool) -> None:
        if self.on != on:
            self.record(Turned(on))

    def apply(self, event: Turned) -> None:
        self.on = event.on

    def to_snapshot(self) -> dict[str, Any]:
        return {"on": self.on}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.on = state["on"]


class Turned(msgspec.Struct, frozen=True):
    on: bool


class Turn(msgspec.Struct, frozen=True):
    on: bool


def switch_bus(store: EventStore, cache_size: int) -> tuple[CommandBus, Repository[Switch]]:
    switches = Repository(store, Switch, EventRegistry([Turned]), cache_size=cache_size)
    bus = CommandBus(store)
    bus.register(
        Turn,
        aggregate_handler(switches, stream=lambda c: "switch-1", act=lambda s, c: s.turn(c.on)),
    )
    return bus, switches


async def test_two_processes_with_caches_stay_correct() -> None:
    """Each bus caches its own states; every command is decided on the current state."""
    store = MemoryEventStore()
    first, _ = switch_bus(store, 10)
    second, _ = switch_bus(store, 10)
    assert (await first.dispatch(Turn(True))).changed  # first caches: on, v1
    assert (await second.dispatch(Turn(False))).changed  # second caches: off, v2
    # first's cache says "on": turning on would be a no-op there, but the switch is off
    result = await first.dispatch(Turn(True))
    assert (result.changed, result.version) == (True, 3)
    # the same the other way round
    result = await second.dispatch(Turn(False))
    assert (result.changed, result.version) == (True, 4)
    # first's cache says "on" at v3: its append expecting v3 fails, and the retry, on the
    # caught-up state, finds nothing to do
    assert not (await first.dispatch(Turn(False))).changed
    assert [e.data["on"] for e in await stored_events(store)] == [True, False, True, False]


async def test_a_refusal_decided_on_a_stale_cache_is_decided_again() -> None:
    store = MemoryEventStore()
    events = order_events()
    cached = Repository(store, order_decider, events, cache_size=10)
    bus = CommandBus(store)
    bus.register(ShipOrder, aggregate_handler(cached, stream=stream_of))
    await cached.load("order-1")  # caches the empty order: "new", v0

    plain = Repository(store, Order, events)  # another process places the order
    order = await plain.load("order-1")
    order.place("ann", 10)
    await plain.save(order)

    # the cached state says "not placed"; the fresh state allows shipping
    result = await bus.dispatch(ShipOrder("1", "DHL"))
    assert result.version == 2
    assert (await cached.load("order-1")).state.status == "shipped"
    assert cached.cache is not None
    assert cached.cache.hits >= 2


async def test_the_cache_keeps_the_most_recently_used_states() -> None:
    store = MemoryEventStore()
    orders = Repository(store, Order, order_events(), cache_size=2)
    for n in range(3):
        order = await orders.load(f"order-{n}")
        order.place("ann", n + 1)
        await orders.save(order)
    assert orders.cache is not None
    assert len(orders.cache) == 2
    await orders.load("order-1")
    await orders.load("order-2")
    await orders.load("order-0")
    assert (orders.cache.hits, orders.cache.misses) == (2, 4)  # order-0 was evicted first


async def test_loaded_copies_share_no_state_with_the_cache() -> None:
    store = MemoryEventStore()
    bus = CommandBus(store)
    orders = Repository(store, order_decider, order_events(), cache_size=5)
    bus.register(PlaceOrder, aggregate_handler(orders, stream=stream_of))
    await bus.dispatch(PlaceOrder("1", "ann", 10))
    first = await orders.load("order-1", verified=False)
    second = await orders.load("order-1", verified=False)
    assert first.state == second.state
    assert first.state is not second.state


async def test_a_broken_cache_entry_falls_back_to_the_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fragile(Order):
        fail = False

        def restore_snapshot(self, state: dict[str, Any]) -> None:
            if Fragile.fail:
                raise ValueError("cannot")
            super().restore_snapshot(state)

    store = MemoryEventStore()
    orders = Repository(store, Fragile, order_events(), cache_size=5)
    order = await orders.load("order-1")
    order.place("ann", 10)
    await orders.save(order)
    Fragile.fail = True
    with caplog.at_level(logging.WARNING, logger="eventbook._write.repository"):
        again = await orders.load("order-1", verified=False)
    assert (again.version, again.status) == (1, "placed")
    assert not orders.is_unverified(again)
    assert "cannot be restored" in caplog.text

    class Unencodable(Order):
        def to_snapshot(self) -> dict[str, Any]:
            return {"x": object()}

    odd = Repository(store, Unencodable, order_events(), cache_size=5)
    with caplog.at_level(logging.WARNING, logger="eventbook._write.repository"):
        assert (await odd.load("order-1")).status == "placed"
    assert odd.cache is not None
    assert len(odd.cache) == 0
    assert "cannot be cached" in caplog.text


def test_cache_arguments_are_checked() -> None:
    class Plain(Aggregate[Any]):
        def apply(self, event: Any) -> None:
            pass

    with pytest.raises(TypeError, match="cache_size="):
        Repository(MemoryEventStore(), Plain, order_events(), cache_size=10)
    for bad in (-1, True, 1.5):
        with pytest.raises(ValidationError):
            StateCache(bad)  # type: ignore[arg-type]


class Tally(msgspec.Struct, frozen=True):
    count: int


class Bump(msgspec.Struct, frozen=True):
    pass


class Counter(Aggregate[Tally]):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def bump(self) -> None:
        self.record(Tally(self.count + 1))

    def apply(self, event: Tally) -> None:
        self.count = event.count

    def to_snapshot(self) -> dict[str, Any]:
        return {"count": self.count}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.count = state["count"]


@pytest.mark.parametrize("processes", [1, 3])
async def test_concurrent_commands_on_cached_states_count_correctly(
    store: EventStore, processes: int
) -> None:
    buses = []
    for _ in range(processes):  # each bus stands for a process with its own cache
        counters = Repository(store, Counter, EventRegistry([Tally]), cache_size=10)
        bus = CommandBus(
            store, retry=RetryPolicy(attempts=200, first_delay=0.0002, max_delay=0.002)
        )
        bus.register(
            Bump,
            aggregate_handler(counters, stream=lambda c: "counter-1", act=lambda a, c: a.bump()),
        )
        buses.append(bus)
    results = await asyncio.gather(*(buses[n % processes].dispatch(Bump()) for n in range(30)))
    assert sorted(r.version for r in results if r.version) == list(range(1, 31))
    assert [e.data["count"] for e in await stored_events(store)] == list(range(1, 31))
