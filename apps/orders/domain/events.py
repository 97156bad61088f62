"""What happens to an order, in past tense. Amounts are `Decimal`, stored as strings.

The customer's name, e-mail and the personal lines of an address are personal data of
the customer named by `customer_id`: encrypted before they reach the store, and read as
"[forgotten]" once the customer is forgotten (docs/personal-data.md).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from eventbook import EventRegistry, PipelineStage
from eventbook.personal import PersonalData

Customers = PersonalData(subject="customer_id")
"""Personal data of the customer that the event's `customer_id` names."""


class LineItem(msgspec.Struct, frozen=True):
    product: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class Address(msgspec.Struct, frozen=True):
    """Used only in events with a `customer_id`; the country stays plain for analytics."""

    name: Annotated[str, Customers]
    street: Annotated[str, Customers]
    city: Annotated[str, Customers]
    postcode: Annotated[str, Customers]
    country: str


class OrderPlaced(msgspec.Struct, frozen=True):
    """Version 2: version 1 had no `currency` (every order was in euros). Orders placed
    before customers had ids have `customer_id` "" (see `customer_of`) and no e-mail."""

    order_id: str
    customer: Annotated[str, Customers]
    items: list[LineItem]
    shipping_address: Address
    currency: str
    at: datetime
    customer_id: str = ""
    email: Annotated[str | None, Customers] = None


class ItemAdded(msgspec.Struct, frozen=True):
    order_id: str
    item: LineItem
    at: datetime


class ItemRemoved(msgspec.Struct, frozen=True):
    order_id: str
    product: str
    at: datetime


class ShippingAddressUpdated(msgspec.Struct, frozen=True):
    order_id: str
    address: Address
    at: datetime
    customer_id: str = ""


class PaymentProcessed(msgspec.Struct, frozen=True):
    order_id: str
    amount: Decimal
    method: str
    at: datetime


class OrderShipped(msgspec.Struct, frozen=True):
    order_id: str
    carrier: str
    at: datetime


class OrderCancelled(msgspec.Struct, frozen=True):
    order_id: str
    reason: str
    at: datetime


class RefundIssued(msgspec.Struct, frozen=True):
    order_id: str
    amount: Decimal
    at: datetime


OrderEvent = (
    OrderPlaced
    | ItemAdded
    | ItemRemoved
    | ShippingAddressUpdated
    | PaymentProcessed
    | OrderShipped
    | OrderCancelled
    | RefundIssued
)

ALL_EVENTS: tuple[type[Any], ...] = (
    OrderPlaced,
    ItemAdded,
    ItemRemoved,
    ShippingAddressUpdated,
    PaymentProcessed,
    OrderShipped,
    OrderCancelled,
    RefundIssued,
)


def order_placed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Orders placed before currencies existed were all in euros."""
    data["currency"] = "EUR"
    return data


def customer_of(order_id: str, customer_id: str) -> str:
    """The data subject of an order's personal data: its customer's id, or for an order
    placed without one, the order itself (a guest)."""
    return customer_id or f"guest-{order_id}"


def order_events(personal: PipelineStage | None = None) -> EventRegistry:
    """The registry of every Orders event, current versions and upcasters; with
    `personal` (a `PersonalDataStage`), personal fields are encrypted in the store."""
    registry = EventRegistry(stages=[] if personal is None else [personal])
    for cls in ALL_EVENTS:
        registry.register(cls, version=2 if cls is OrderPlaced else 1)
    registry.add_upcaster("OrderPlaced", 1, order_placed_v1_to_v2)
    return registry
