"""What happens to an order, in past tense. Amounts are `Decimal`, stored as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from eventbook import EventRegistry


class LineItem(msgspec.Struct, frozen=True):
    product: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class Address(msgspec.Struct, frozen=True):
    name: str
    street: str
    city: str
    postcode: str
    country: str


class OrderPlaced(msgspec.Struct, frozen=True):
    """Version 2: version 1 had no `currency` (every order was in euros)."""

    order_id: str
    customer: str
    items: list[LineItem]
    shipping_address: Address
    currency: str
    at: datetime


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


def order_events() -> EventRegistry:
    """The registry of every Orders event, current versions and upcasters."""
    registry = EventRegistry()
    for cls in ALL_EVENTS:
        registry.register(cls, version=2 if cls is OrderPlaced else 1)
    registry.add_upcaster("OrderPlaced", 1, order_placed_v1_to_v2)
    return registry
