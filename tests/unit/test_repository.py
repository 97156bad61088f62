"""Loading and saving aggregates of both styles, optimistic concurrency, and time travel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid5

import msgspec
import pytest

from eventbook import (
    Aggregate,
    CommandContext,
    CommandMetadata,
    ConcurrencyError,
    Decider,
    DeciderAggregate,
    EventStore,
    Repository,
    ValidationError,
)
from eventbook._backends.memory import MemoryEventStore
from eventbook._write.aggregate import Bookkeeping
from eventbook._write.context import _EVENT_IDS as EVENT_ID_NAMESPACE
from tests.unit.write_domain import (
    Order,
    OrderNotPlaced,
    OrderPlaced,
    OrderShipped,
    PlaceOrder,
    ShipOrder,
    order_decider,
    order_events,
    store,
    stored_events,
)

__all__ = ["store"]  # the fixture


async def test_a_class_aggregate_is_saved_and_rebuilt(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    order = await orders.load("order-1")
    assert (order.stream, order.version, order.status) == ("order-1", 0, "new")
    order.place("ann", 10)
    order.ship("DHL")
    assert order.pending_events == (OrderPlaced("ann", 10, "EUR"), OrderShipped("DHL"))
    result = await orders.save(order)
    assert result is not None
    assert (result.version, order.version, order.pending_events) == (2, 2, ())
    assert await orders.save(order) is None  # nothing pending

    again = await orders.load("order-1")
    assert (again.version, again.status, again.total, again.carrier) == (2, "shipped", 10, "DHL")
    assert [e.type for e in await stored_events(store, "order-1")] == [
        "OrderPlaced",
        "OrderShipped",
    ]


async def test_a_decider_runs_through_the_same_repository(store: EventStore) -> None:
    orders = Repository(store, order_decider, order_events())
    order = await orders.load("order-1")
    assert isinstance(order, DeciderAggregate)
    assert order.decide(PlaceOrder("1", "ann", 10)) == [OrderPlaced("ann", 10, "EUR")]
    await orders.save(order)
    order = await orders.load("order-1")
    order.decide(ShipOrder("1", "UPS"))
    await orders.save(order)
    state = (await orders.load("order-1")).state
    assert (state.status, state.total, state.carrier) == ("shipped", 10, "UPS")
    # the class style reads the very same stream
    assert (await Repository(store, Order, order_events()).load("order-1")).carrier == "UPS"


async def test_a_broken_rule_records_and_stores_nothing(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    order = await orders.load("order-2")
    with pytest.raises(OrderNotPlaced):
        order.ship("DHL")
    assert order.pending_events == ()
    assert await orders.save(order) is None

    decided = Repository(store, order_decider, order_events())
    state = await decided.load("order-2")
    with pytest.raises(OrderNotPlaced):
        state.decide(ShipOrder("2", "DHL"))
    assert state.pending_events == ()
    assert await decided.save(state) is None
    assert await stored_events(store) == []


async def test_a_decider_must_return_a_list(store: EventStore) -> None:
    broken: Decider[Any, Any, Any] = Decider(
        name="Broken",
        decide=lambda command, state: OrderShipped("x"),  # type: ignore[arg-type,return-value]
        evolve=lambda state, event: state,
        initial_state=dict,
    )
    aggregate = await Repository(store, broken, order_events()).load("b-1")
    with pytest.raises(TypeError, match="must return a list of events"):
        aggregate.decide("anything")
    assert aggregate.pending_events == ()


async def test_save_expects_the_loaded_version(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    first, second = await orders.load("order-3"), await orders.load("order-3")
    first.place("ann", 1)
    second.place("bob", 2)
    await orders.save(first)
    with pytest.raises(ConcurrencyError) as caught:
        await orders.save(second)
    assert caught.value.actual == 1
    stale, current = await orders.load("order-3"), await orders.load("order-3")
    current.ship("DHL")
    await orders.save(current)
    stale.ship("UPS")
    with pytest.raises(ConcurrencyError):
        await orders.save(stale)
    assert [e.type for e in await stored_events(store, "order-3")] == [
        "OrderPlaced",
        "OrderShipped",
    ]


async def test_a_command_context_stamps_ids_and_metadata(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    command = PlaceOrder("4", "ann", 10)
    context = CommandContext.for_command(
        command,
        CommandMetadata(command_id="cmd-4", actor="ann", extra={"traceparent": "00-ab-cd-01"}),
    )
    order = await orders.load("order-4")
    order.place("ann", 10)
    order.ship("DHL")
    await orders.save(order, context)
    recorded = await stored_events(store, "order-4")
    assert [e.id for e in recorded] == context.event_ids(2)
    assert context.event_id(1) == uuid5(EVENT_ID_NAMESPACE, "cmd-4/1")  # as documented
    assert context.saved is not None
    assert (context.saved.stream, context.saved.version, context.saved.replayed) == (
        "order-4",
        2,
        False,
    )
    meta = recorded[0].metadata
    assert meta["command_id"] == "cmd-4"
    assert meta["command_type"] == "PlaceOrder"
    assert meta["correlation_id"] == "cmd-4"
    assert meta["causation_id"] == "cmd-4"
    assert meta["actor"] == "ann"
    assert meta["traceparent"] == "00-ab-cd-01"
    assert meta["schema_version"] == 2
    assert datetime.fromisoformat(meta["occurred_at"]).tzinfo is not None
    assert recorded[1].metadata["command_hash"] == meta["command_hash"]

    # one command changes one aggregate
    other = await orders.load("order-5")
    other.place("bob", 1)
    with pytest.raises(ValidationError, match="one command changes one aggregate"):
        await orders.save(other, context)
    assert await stored_events(store, "order-5") == []


async def test_saving_a_command_that_already_ran_writes_nothing(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    metadata = CommandMetadata(command_id="cmd-6")
    order = await orders.load("order-6")
    order.place("ann", 10)
    await orders.save(order, CommandContext.for_command(PlaceOrder("6", "ann", 10), metadata))
    later = await orders.load("order-6")
    later.ship("DHL")
    await orders.save(later)

    # the same command again, decided on newer state that happens to allow it
    retry = await orders.load("order-6")
    Bookkeeping.of(
        retry
    ).version = 2  # as if the order had been placed by someone else and cancelled
    retry.status = "new"
    retry.place("ann", 10)
    context = CommandContext.for_command(PlaceOrder("6", "ann", 10), metadata)
    result = await orders.save(retry, context)
    assert result is not None
    assert result.version == 1
    assert context.saved is not None
    assert context.saved.replayed
    assert len(await stored_events(store, "order-6")) == 2
    with pytest.raises(ValidationError, match="read-only"):
        await orders.save(retry)


async def test_time_travel_by_version_and_by_time() -> None:
    store = MemoryEventStore()
    orders = Repository(store, Order, order_events())
    order = await orders.load("order-7")
    order.place("ann", 10)
    await orders.save(order)
    await asyncio.sleep(0.01)
    order.ship("DHL")
    await orders.save(order)
    recorded = await stored_events(store, "order-7")

    at_one = await orders.load("order-7", at_version=1)
    assert (at_one.version, at_one.status) == (1, "placed")
    assert (await orders.load("order-7", at_version=2)).status == "shipped"

    placed_at, shipped_at = recorded[0].recorded_at, recorded[1].recorded_at
    assert (await orders.load("order-7", as_of=placed_at)).status == "placed"
    between = placed_at + (shipped_at - placed_at) / 2
    assert (await orders.load("order-7", as_of=between)).version == 1
    assert (await orders.load("order-7", as_of=shipped_at + timedelta(days=1))).status == "shipped"
    before = await orders.load("order-7", as_of=placed_at - timedelta(seconds=1))
    assert (before.version, before.status) == (0, "new")

    at_one.ship("UPS")
    before.place("bob", 1)
    for history in (at_one, before):
        with pytest.raises(ValidationError, match="history is read-only"):
            await orders.save(history)

    decided = Repository(store, order_decider, order_events())
    assert (await decided.load("order-7", at_version=1)).state.status == "placed"


async def test_bad_load_arguments_are_refused(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    await orders.save(_placed(orders.new("order-8")))
    with pytest.raises(ValidationError, match="no version 5"):
        await orders.load("order-8", at_version=5)
    with pytest.raises(ValidationError, match="at_version or as_of"):
        await orders.load("order-8", at_version=1, as_of=datetime.now(UTC))
    with pytest.raises(ValidationError, match="timezone-aware"):
        await orders.load("order-8", as_of=datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="at_version must be 1 or more"):
        await orders.load("order-8", at_version=0)
    with pytest.raises(ValidationError, match="stream name"):
        await orders.load("")


def _placed(order: Order) -> Order:
    order.place("ann", 1)
    return order


def test_repository_construction_mistakes() -> None:
    store = MemoryEventStore()

    class Forgetful(Aggregate[Any]):
        def __init__(self) -> None:  # forgets super().__init__()
            self.x = 1

    class NoSnapshots(Aggregate[Any]):
        def apply(self, event: Any) -> None:
            pass

    with pytest.raises(TypeError, match=r"must call super\(\).__init__\(\)"):
        Repository(store, Forgetful, order_events())
    with pytest.raises(TypeError, match="Aggregate subclass or a Decider"):
        Repository(store, object, order_events())  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="EventRegistry"):
        Repository(store, Order, {})  # type: ignore[arg-type]
    from eventbook import snapshot_every

    with pytest.raises(TypeError, match="define to_snapshot"):
        Repository(store, NoSnapshots, order_events(), snapshots=snapshot_every(10))


def test_an_aggregate_without_apply_says_so() -> None:
    class Lazy(Aggregate[Any]):
        pass

    with pytest.raises(NotImplementedError, match="Lazy must define apply"):
        Lazy().record(msgspec.Struct())


def test_an_aggregate_reports_its_bookkeeping() -> None:
    order = Order()
    book = Bookkeeping.of(order)
    order.place("ann", 10)
    book.bind("order-7")  # what an __init__ recorded is state, not pending
    assert (order.stream, order.version, order.pending_events) == ("order-7", 0, ())
    assert order.status == "placed"

    order.ship("DHL")
    assert len(order.pending_events) == 1
    assert repr(order) == "<Order 'order-7' v0, 1 pending>"
    book.committed(2)
    assert (order.version, order.pending_events) == (2, ())

    book.restored(5)
    assert (order.version, book.snapshot_at) == (5, 5)
    book.restored(8, snapshot_at=5)  # a cached state newer than the stored snapshot
    assert (order.version, book.snapshot_at) == (8, 5)
    assert repr(order) == "<Order 'order-7' v8>"


def test_an_aggregate_whose_init_skips_super_says_so() -> None:
    class Forgetful(Aggregate[Any]):
        def __init__(self) -> None:
            self.x = 1

        def apply(self, event: Any) -> None:
            pass

    forgetful = Forgetful()
    with pytest.raises(TypeError, match=r"Forgetful.__init__ must call super\(\).__init__\(\)"):
        forgetful.record(msgspec.Struct())
    with pytest.raises(TypeError, match=r"must call super\(\).__init__\(\)"):
        Bookkeeping.of(forgetful)
    assert repr(forgetful) == "<Forgetful '' v0>"
