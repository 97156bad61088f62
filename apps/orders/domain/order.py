"""The Order aggregate: the rules of an order's life, checked against its history."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from apps.orders.domain import commands as c
from apps.orders.domain.events import (
    Address,
    ItemAdded,
    ItemRemoved,
    LineItem,
    OrderCancelled,
    OrderEvent,
    OrderPlaced,
    OrderShipped,
    PaymentProcessed,
    RefundIssued,
    ShippingAddressUpdated,
    customer_of,
)
from eventbook import Aggregate, DomainError

Clock = Callable[[], datetime]
ZERO = Decimal("0.00")


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderError(DomainError):
    """A command broke one of the order's rules."""


class OrderAlreadyPlaced(OrderError): ...


class OrderNotFound(OrderError): ...


class OrderNotOpen(OrderError):
    """Items and payment change only while the order is placed and unpaid."""


class ItemNotInOrder(OrderError): ...


class LastItem(OrderError):
    """An order keeps at least one item; cancel it instead."""


class PaymentAmountMismatch(OrderError): ...


class OrderTooLarge(OrderError):
    """An order holds at most `MAX_QUANTITY` of a product and totals at most `MAX_PRICE`,
    the largest payment: a larger one could never be paid."""


class OrderNotPaid(OrderError): ...


class OrderAlreadyShipped(OrderError): ...


class OrderCancelledAlready(OrderError): ...


class Order(Aggregate[OrderEvent]):
    """An order from placement to shipment or cancellation."""

    snapshot_version = 2  # 2: customer_id and email

    def __init__(self) -> None:
        super().__init__()
        self.order_id = ""
        self.status = "new"
        self.customer = ""
        self.customer_id = ""
        self.email: str | None = None
        self.currency = "EUR"
        self.items: dict[str, LineItem] = {}
        self.address: Address | None = None
        self.paid = ZERO

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items.values()), ZERO)

    # -- commands --------------------------------------------------------------------------

    def place(self, command: c.PlaceOrder, now: Clock = utc_now) -> None:
        if self.status != "new":
            raise OrderAlreadyPlaced(f"order {command.order_id} exists already")
        merged: dict[str, LineItem] = {}
        for line in command.items:
            earlier = merged.get(line.product)
            if earlier is not None and earlier.unit_price != line.unit_price:
                raise OrderError(f"{line.product} is listed twice with different prices")
            quantity = line.quantity + (earlier.quantity if earlier else 0)
            merged[line.product] = LineItem(line.product, quantity, line.unit_price)
        _check_size(merged.values())
        self.record(
            OrderPlaced(
                order_id=command.order_id,
                customer=command.customer,
                items=list(merged.values()),
                shipping_address=_address(command.shipping_address),
                currency=command.currency,
                at=now(),
                customer_id=customer_of(command.order_id, command.customer_id or ""),
                email=command.email,
            )
        )

    def add_item(self, command: c.AddItem, now: Clock = utc_now) -> None:
        self._require_open()
        earlier = self.items.get(command.product)
        if earlier is not None and earlier.unit_price != command.unit_price:
            raise OrderError(
                f"{command.product} costs {earlier.unit_price} in this order,"
                f" not {command.unit_price}"
            )
        item = LineItem(command.product, command.quantity, command.unit_price)
        held = earlier.quantity if earlier is not None else 0
        after = {
            **self.items,
            item.product: LineItem(item.product, held + item.quantity, item.unit_price),
        }
        _check_size(after.values())
        self.record(ItemAdded(order_id=self.order_id, item=item, at=now()))

    def remove_item(self, command: c.RemoveItem, now: Clock = utc_now) -> None:
        self._require_open()
        if command.product not in self.items:
            raise ItemNotInOrder(f"{command.product} is not in order {self.order_id}")
        if len(self.items) == 1:
            raise LastItem(f"{command.product} is the last item of order {self.order_id}")
        self.record(ItemRemoved(order_id=self.order_id, product=command.product, at=now()))

    def update_shipping_address(
        self, command: c.UpdateShippingAddress, now: Clock = utc_now
    ) -> None:
        self._require_exists()
        if self.status == "shipped":
            raise OrderAlreadyShipped(f"order {self.order_id} has shipped")
        if self.status == "cancelled":
            raise OrderCancelledAlready(f"order {self.order_id} is cancelled")
        address = _address(command.address)
        self.record(
            ShippingAddressUpdated(
                order_id=self.order_id, address=address, at=now(), customer_id=self.customer_id
            )
        )

    def process_payment(self, command: c.ProcessPayment, now: Clock = utc_now) -> None:
        self._require_open()
        if command.amount != self.total:
            raise PaymentAmountMismatch(
                f"order {self.order_id} totals {self.total} {self.currency}, not {command.amount}"
            )
        self.record(
            PaymentProcessed(
                order_id=self.order_id, amount=command.amount, method=command.method, at=now()
            )
        )

    def ship(self, command: c.ShipOrder, now: Clock = utc_now) -> None:
        self._require_exists()
        if self.status == "shipped":
            raise OrderAlreadyShipped(f"order {self.order_id} has shipped already")
        if self.status == "cancelled":
            raise OrderCancelledAlready(f"order {self.order_id} is cancelled")
        if self.status != "paid":
            raise OrderNotPaid(f"order {self.order_id} is not paid")
        self.record(OrderShipped(order_id=self.order_id, carrier=command.carrier, at=now()))

    def cancel(self, command: c.CancelOrder, now: Clock = utc_now) -> None:
        self._require_exists()
        if self.status == "shipped":
            raise OrderAlreadyShipped(f"order {self.order_id} has shipped; it cannot be cancelled")
        if self.status == "cancelled":
            raise OrderCancelledAlready(f"order {self.order_id} is cancelled already")
        at = now()
        refund = self.paid
        self.record(OrderCancelled(order_id=self.order_id, reason=command.reason, at=at))
        if refund > 0:
            self.record(RefundIssued(order_id=self.order_id, amount=refund, at=at))

    # -- state -----------------------------------------------------------------------------

    def apply(self, event: OrderEvent) -> None:
        match event:
            case OrderPlaced():
                self.order_id = event.order_id
                self.status = "placed"
                self.customer = event.customer
                self.customer_id = customer_of(event.order_id, event.customer_id)
                self.email = event.email
                self.currency = event.currency
                self.items = {item.product: item for item in event.items}
                self.address = event.shipping_address
            case ItemAdded(item=item):
                earlier = self.items.get(item.product)
                quantity = item.quantity + (earlier.quantity if earlier else 0)
                self.items[item.product] = LineItem(item.product, quantity, item.unit_price)
            case ItemRemoved():
                self.items.pop(event.product, None)
            case ShippingAddressUpdated():
                self.address = event.address
            case PaymentProcessed():
                self.paid += event.amount
                self.status = "paid"
            case OrderShipped():
                self.status = "shipped"
            case OrderCancelled():
                self.status = "cancelled"
            case RefundIssued():
                self.paid -= event.amount

    def view(self) -> dict[str, Any]:
        """The state as plain data, for time travel and snapshots."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "customer": self.customer,
            "customer_id": self.customer_id,
            "email": self.email,
            "currency": self.currency,
            "items": [msgspec.to_builtins(item) for item in self.items.values()],
            "shipping_address": msgspec.to_builtins(self.address),
            "total": str(self.total),
            "paid": str(self.paid),
        }

    def to_snapshot(self) -> dict[str, Any]:
        return self.view()

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.order_id = state["order_id"]
        self.status = state["status"]
        self.customer = state["customer"]
        self.customer_id = state["customer_id"]
        self.email = state["email"]
        self.currency = state["currency"]
        items = msgspec.convert(state["items"], list[LineItem], strict=False)
        self.items = {item.product: item for item in items}
        address = state["shipping_address"]
        self.address = None if address is None else msgspec.convert(address, Address)
        self.paid = Decimal(state["paid"])

    def _require_exists(self) -> None:
        if self.status == "new":
            raise OrderNotFound(f"order {self.stream.removeprefix('order-')} does not exist")

    def _require_open(self) -> None:
        self._require_exists()
        if self.status != "placed":
            raise OrderNotOpen(f"order {self.order_id} is {self.status}")


def _check_size(items: Iterable[LineItem]) -> None:
    """Refuse an order that would hold too much of a product, or cost more than can be paid."""
    total = ZERO
    for item in items:
        if item.quantity > c.MAX_QUANTITY:
            raise OrderTooLarge(
                f"the order would hold {item.quantity} of {item.product};"
                f" at most {c.MAX_QUANTITY} of a product"
            )
        total += item.amount
    if total > c.MAX_PRICE:
        raise OrderTooLarge(f"the order would total {total}; at most {c.MAX_PRICE}")


def _address(address: c.NewAddress) -> Address:
    return Address(address.name, address.street, address.city, address.postcode, address.country)
