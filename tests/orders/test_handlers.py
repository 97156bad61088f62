"""The Orders command handlers, run in-process through a real `CommandBus` and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from apps.orders.domain import commands as c
from apps.orders.domain.events import order_events
from apps.orders.domain.order import (
    Order,
    OrderAlreadyPlaced,
    OrderAlreadyShipped,
    OrderCancelledAlready,
    OrderNotFound,
    OrderNotOpen,
    OrderNotPaid,
    PaymentAmountMismatch,
)
from apps.orders.handlers import EXPECTED_VERSION, VersionMismatch, register_handlers, stream_of
from apps.orders.seed import seed, simulated_clock

import eventbook
from eventbook import (
    CommandBus,
    CommandIdReused,
    CommandMetadata,
    CommandResult,
    EventStore,
    RecordedEvent,
    Repository,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = c.NewAddress("Ada Lovelace", "12 St James's Sq", "London", "SW1Y 4JH", "GB")
KETTLE = c.NewLineItem("Kettle", 2, Decimal("25.00"))
MUG = c.NewLineItem("Mug", 1, Decimal("4.50"))


class TickingClock:
    """A minute later on every reading, so each event's time tells which command made it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


class RacingOrders(Repository[Order]):
    """Holds the first `racers` loads until all of them have loaded: their saves then
    race from the same version, so all but one meet a conflict."""

    def __init__(self, store: EventStore, racers: int) -> None:
        super().__init__(store, Order, order_events())
        self.loads = 0
        self._racers = racers
        self._barrier = asyncio.Barrier(racers)

    async def load(self, stream: str, **options: Any) -> Order:
        order = await super().load(stream, **options)
        self.loads += 1
        if self.loads <= self._racers:
            await self._barrier.wait()
        return order


def racing_buses(
    store: EventStore, orders: Repository[Order], clock: TickingClock
) -> tuple[CommandBus, CommandBus]:
    """Two buses, as two processes have: one bus's own commands on an order take turns
    and never race, so racing writers need a bus each."""
    buses = (CommandBus(store), CommandBus(store))
    for racing in buses:
        register_handlers(racing, orders, clock=clock)
    return buses


@pytest_asyncio.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"
    opened = await eventbook.connect(url)
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def orders(store: EventStore) -> Repository[Order]:
    return Repository(store, Order, order_events())


@pytest.fixture
def bus(store: EventStore, orders: Repository[Order], clock: TickingClock) -> CommandBus:
    bus = CommandBus(store)
    register_handlers(bus, orders, clock=clock)
    return bus


def place(order_id: str = "o1", *items: c.NewLineItem, currency: c.Currency = "EUR") -> Any:
    return c.PlaceOrder(order_id, "Ada Lovelace", list(items) or [KETTLE], ADDRESS, currency)


async def history(store: EventStore, order_id: str = "o1") -> list[RecordedEvent]:
    return [event async for event in store.read_stream(stream_of(order_id))]


async def test_every_command_has_a_handler(bus: CommandBus) -> None:
    assert set(bus.command_types) == {
        "PlaceOrder",
        "AddItem",
        "RemoveItem",
        "UpdateShippingAddress",
        "ProcessPayment",
        "ShipOrder",
        "CancelOrder",
    }


async def test_an_order_lives_from_placement_to_shipment(
    bus: CommandBus, store: EventStore, orders: Repository[Order]
) -> None:
    placed = await bus.dispatch(place("o1", KETTLE, MUG), CommandMetadata(actor="web"))
    assert (placed.stream, placed.version, placed.duplicate) == ("order-o1", 1, False)
    await bus.dispatch(c.AddItem("o1", "Tea", 3, Decimal("2.00")))
    await bus.dispatch(c.RemoveItem("o1", "Mug"))
    moved = c.NewAddress("Ada Lovelace", "1 Baker St", "London", "NW1 6XE", "GB")
    await bus.dispatch(c.UpdateShippingAddress("o1", moved))
    await bus.dispatch(c.ProcessPayment("o1", Decimal("56.00"), "card"))
    shipped = await bus.dispatch(c.ShipOrder("o1", "DHL"))
    assert shipped.version == 6

    events = await history(store)
    assert [e.type for e in events] == [
        "OrderPlaced",
        "ItemAdded",
        "ItemRemoved",
        "ShippingAddressUpdated",
        "PaymentProcessed",
        "OrderShipped",
    ]
    # Each event carries the handlers' clock, one reading per command.
    assert [e.data["at"] for e in events] == [
        (START + timedelta(minutes=n)).isoformat().replace("+00:00", "Z") for n in range(1, 7)
    ]
    assert events[0].metadata["actor"] == "web"
    order = await orders.load("order-o1")
    assert (order.status, order.total, order.paid) == ("shipped", Decimal("56.00"), Decimal("56"))
    assert order.address is not None
    assert order.address.street == "1 Baker St"


async def test_cancelling_a_paid_order_refunds_it(bus: CommandBus, store: EventStore) -> None:
    await bus.dispatch(place())
    await bus.dispatch(c.ProcessPayment("o1", Decimal("50.00")))
    cancelled = await bus.dispatch(c.CancelOrder("o1", "out of stock"))
    assert (cancelled.version, len(cancelled.event_ids)) == (4, 2)
    refund = (await history(store))[-1]
    assert (refund.type, refund.data["amount"]) == ("RefundIssued", "50.00")


async def test_cancelling_an_unpaid_order_refunds_nothing(
    bus: CommandBus, store: EventStore
) -> None:
    await bus.dispatch(place())
    await bus.dispatch(c.CancelOrder("o1", "changed my mind"))
    assert [e.type for e in await history(store)] == ["OrderPlaced", "OrderCancelled"]


@pytest.mark.parametrize(
    ("before", "command", "refusal"),
    [
        ([], c.ShipOrder("o1", "DHL"), OrderNotFound),
        ([], c.AddItem("o1", "Tea", 1, Decimal(2)), OrderNotFound),
        ([place()], place(), OrderAlreadyPlaced),
        ([place()], c.ShipOrder("o1", "DHL"), OrderNotPaid),
        ([place()], c.ProcessPayment("o1", Decimal("49.99")), PaymentAmountMismatch),
        (
            [place(), c.ProcessPayment("o1", Decimal(50))],
            c.AddItem("o1", "Tea", 1, Decimal(2)),
            OrderNotOpen,
        ),
        (
            [place(), c.ProcessPayment("o1", Decimal(50)), c.ShipOrder("o1", "UPS")],
            c.CancelOrder("o1", "too late"),
            OrderAlreadyShipped,
        ),
        ([place(), c.CancelOrder("o1", "no")], c.CancelOrder("o1", "no"), OrderCancelledAlready),
    ],
)
async def test_a_refused_command_writes_nothing(
    bus: CommandBus, store: EventStore, before: list[Any], command: Any, refusal: type[Exception]
) -> None:
    for earlier in before:
        await bus.dispatch(earlier)
    head = await store.head()
    with pytest.raises(refusal):
        await bus.dispatch(command)
    assert await store.head() == head


async def test_a_repeated_command_id_returns_the_first_result(
    bus: CommandBus, store: EventStore
) -> None:
    first = await bus.dispatch(place(), CommandMetadata(command_id="checkout-1"))
    again = await bus.dispatch(place(), CommandMetadata(command_id="checkout-1"))
    assert again == CommandResult(
        "checkout-1", first.stream, first.version, first.position, first.event_ids, duplicate=True
    )
    assert len(await history(store)) == 1


async def test_a_command_id_reused_for_another_command_is_refused(
    bus: CommandBus, store: EventStore
) -> None:
    await bus.dispatch(place(), CommandMetadata(command_id="checkout-1"))
    with pytest.raises(CommandIdReused):
        await bus.dispatch(place("o2"), CommandMetadata(command_id="checkout-1"))
    assert [e async for e in store.read_stream(stream_of("o2"))] == []


async def test_the_expected_version_guards_against_a_stale_client(bus: CommandBus) -> None:
    await bus.dispatch(place())
    await bus.dispatch(c.AddItem("o1", "Tea", 1, Decimal(2)), _expecting(1))
    with pytest.raises(VersionMismatch) as mismatch:
        await bus.dispatch(c.AddItem("o1", "Mug", 1, Decimal(4)), _expecting(1))
    assert (mismatch.value.expected, mismatch.value.actual) == (1, 2)


async def test_conflicting_writers_are_retried_on_fresh_state(
    store: EventStore, clock: TickingClock, bus: CommandBus
) -> None:
    await bus.dispatch(place())
    orders = RacingOrders(store, racers=2)
    first, second = racing_buses(store, orders, clock)
    results = await asyncio.gather(
        first.dispatch(c.AddItem("o1", "Tea", 1, Decimal(2))),
        second.dispatch(c.AddItem("o1", "Mug", 1, Decimal(4))),
    )
    assert sorted(r.version for r in results if r.version is not None) == [2, 3]
    assert orders.loads == 3  # the loser loaded once more, after the winner's save
    order = await orders.load("order-o1")
    assert set(order.items) == {"Kettle", "Tea", "Mug"}


async def test_a_racing_writer_with_an_expected_version_gets_a_mismatch(
    store: EventStore, clock: TickingClock, bus: CommandBus
) -> None:
    await bus.dispatch(place())
    orders = RacingOrders(store, racers=2)
    first, second = racing_buses(store, orders, clock)
    outcomes = await asyncio.gather(
        first.dispatch(c.AddItem("o1", "Tea", 1, Decimal(2)), _expecting(1)),
        second.dispatch(c.AddItem("o1", "Mug", 1, Decimal(4)), _expecting(1)),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["CommandResult", "VersionMismatch"]
    assert await store.stream_version(stream_of("o1")) == 2


async def test_handlers_read_real_utc_time_unless_given_a_clock(store: EventStore) -> None:
    bus = CommandBus(store)
    register_handlers(bus, Repository(store, Order, order_events()))
    before = datetime.now(UTC)
    await bus.dispatch(place())
    stamped = datetime.fromisoformat((await history(store))[0].data["at"])
    assert before <= stamped <= datetime.now(UTC)


async def test_the_seeder_plays_each_command_at_its_simulated_time(store: EventStore) -> None:
    await seed(store, Repository(store, Order, order_events()), 40, weeks=2)
    placed = [
        datetime.fromisoformat(e.data["at"])
        async for e in store.read_all()
        if e.type == "OrderPlaced"
    ]
    assert len(placed) == 40
    assert max(placed) <= datetime.now(UTC)
    assert max(placed) - min(placed) > timedelta(days=3)
    with pytest.raises(RuntimeError, match="outside a seeded command"):
        simulated_clock()


def _expecting(version: int) -> CommandMetadata:
    return CommandMetadata(extra={EXPECTED_VERSION: version})
