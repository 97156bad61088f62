"""A small Orders domain, in both aggregate styles, shared by the write-side tests."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import msgspec
import pytest
import pytest_asyncio

import eventbook
from eventbook import (
    Aggregate,
    Decider,
    DomainError,
    EventRegistry,
    EventStore,
    RecordedEvent,
)
from eventbook._backends.memory import MemoryEventStore

# -- events ------------------------------------------------------------------------------


class OrderPlaced(msgspec.Struct, frozen=True):
    """Version 2: version 1 had no currency."""

    customer: str
    total: int
    currency: str


class OrderShipped(msgspec.Struct, frozen=True):
    carrier: str


@dataclasses.dataclass(frozen=True)
class OrderCancelled:
    reason: str


OrderEvent = OrderPlaced | OrderShipped | OrderCancelled


def add_currency(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "currency": "EUR"}


def order_events() -> EventRegistry:
    events = EventRegistry()
    events.register(OrderPlaced, version=2)
    events.register(OrderShipped)
    events.register(OrderCancelled, name="order-cancelled")
    events.add_upcaster("OrderPlaced", 1, add_currency)
    return events


# -- commands ----------------------------------------------------------------------------


class PlaceOrder(msgspec.Struct, frozen=True):
    order_id: str
    customer: Annotated[str, msgspec.Meta(min_length=1)]
    total: Annotated[int, msgspec.Meta(ge=1)]
    currency: str = "EUR"


class ShipOrder(msgspec.Struct, frozen=True):
    order_id: str
    carrier: str


@dataclasses.dataclass(frozen=True)
class CancelOrder:
    order_id: str
    reason: str


def stream_of(command: PlaceOrder | ShipOrder | CancelOrder) -> str:
    return f"order-{command.order_id}"


# -- rules -------------------------------------------------------------------------------


class OrderAlreadyPlaced(DomainError):
    pass


class OrderNotPlaced(DomainError):
    pass


class OrderAlreadyShipped(DomainError):
    pass


# -- the class style ---------------------------------------------------------------------


class Order(Aggregate[OrderEvent]):
    def __init__(self) -> None:
        super().__init__()
        self.status = "new"
        self.total = 0
        self.carrier: str | None = None

    def place(self, customer: str, total: int, currency: str = "EUR") -> None:
        if self.status != "new":
            raise OrderAlreadyPlaced(self.stream)
        self.record(OrderPlaced(customer, total, currency))

    def ship(self, carrier: str) -> None:
        if self.status == "shipped":
            raise OrderAlreadyShipped(self.stream)
        if self.status != "placed":
            raise OrderNotPlaced(self.stream)
        self.record(OrderShipped(carrier))

    def cancel(self, reason: str) -> None:
        if self.status == "cancelled":
            return  # cancelling twice changes nothing
        if self.status != "placed":
            raise OrderNotPlaced(self.stream)
        self.record(OrderCancelled(reason))

    def apply(self, event: OrderEvent) -> None:
        match event:
            case OrderPlaced(total=total):
                self.status, self.total = "placed", total
            case OrderShipped(carrier=carrier):
                self.status, self.carrier = "shipped", carrier
            case OrderCancelled():
                self.status = "cancelled"

    def to_snapshot(self) -> dict[str, Any]:
        return {"status": self.status, "total": self.total, "carrier": self.carrier}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.status, self.total = state["status"], state["total"]
        self.carrier = state["carrier"]


# -- the decider style -------------------------------------------------------------------


class OrderState(msgspec.Struct, frozen=True):
    status: str = "new"
    total: int = 0
    carrier: str | None = None


def decide(command: PlaceOrder | ShipOrder | CancelOrder, state: OrderState) -> list[OrderEvent]:
    match command:
        case PlaceOrder():
            if state.status != "new":
                raise OrderAlreadyPlaced(command.order_id)
            return [OrderPlaced(command.customer, command.total, command.currency)]
        case ShipOrder():
            if state.status == "shipped":
                raise OrderAlreadyShipped(command.order_id)
            if state.status != "placed":
                raise OrderNotPlaced(command.order_id)
            return [OrderShipped(command.carrier)]
        case CancelOrder():
            if state.status == "cancelled":
                return []
            if state.status != "placed":
                raise OrderNotPlaced(command.order_id)
            return [OrderCancelled(command.reason)]
    raise TypeError(f"not an order command: {command!r}")


def evolve(state: OrderState, event: OrderEvent) -> OrderState:
    match event:
        case OrderPlaced(total=total):
            return msgspec.structs.replace(state, status="placed", total=total)
        case OrderShipped(carrier=carrier):
            return msgspec.structs.replace(state, status="shipped", carrier=carrier)
        case OrderCancelled():
            return msgspec.structs.replace(state, status="cancelled")
    return state


order_decider: Decider[PlaceOrder | ShipOrder | CancelOrder, OrderState, OrderEvent] = Decider(
    name="Order", decide=decide, evolve=evolve, initial_state=OrderState
)


# -- stores ------------------------------------------------------------------------------


class InterleavingStore(MemoryEventStore):
    """A memory store whose reads yield to the event loop, so concurrent commands interleave."""

    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]:
        await asyncio.sleep(0)
        return await super()._read_stream_page(stream, from_version, backwards, limit)

    async def _read_event(self, event_id: Any) -> RecordedEvent | None:
        await asyncio.sleep(0)
        return await super()._read_event(event_id)


@pytest_asyncio.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    """Every test using it runs on the memory store and on a real SQLite file."""
    opened: EventStore
    if request.param == "memory":
        opened = InterleavingStore()
    else:
        opened = await eventbook.connect(f"sqlite:///{tmp_path}/events.db", synchronous="OFF")
    async with opened:
        yield opened


async def stored_events(store: EventStore, stream: str | None = None) -> list[RecordedEvent]:
    if stream is None:
        return [event async for event in store.read_all()]
    return [event async for event in store.read_stream(stream)]
