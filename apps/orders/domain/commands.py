"""What a client asks of an order, in the imperative. Validated before any handler runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
OrderId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Product = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Price = Decimal
"""An amount with at most two decimals, from 0 to 1,000,000 (checked by `check_price`)."""
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]


MAX_PRICE = Decimal(1_000_000)


def check_price(field: str, value: Decimal) -> None:
    """msgspec cannot bound a Decimal, so amounts are checked after decoding."""
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise ValueError(f"{field} must be a finite amount with at most two decimals")
    if not 0 <= value <= MAX_PRICE:
        raise ValueError(f"{field} must be between 0 and {MAX_PRICE}")


Line = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewAddress(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    street: Line
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    postcode: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]


class NewLineItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product: Product
    quantity: Quantity
    unit_price: Price

    def __post_init__(self) -> None:
        check_price("unit_price", self.unit_price)


class PlaceOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    customer: Name
    items: Annotated[list[NewLineItem], msgspec.Meta(min_length=1, max_length=100)]
    shipping_address: NewAddress
    currency: Currency = "EUR"


class AddItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    product: Product
    quantity: Quantity
    unit_price: Price

    def __post_init__(self) -> None:
        check_price("unit_price", self.unit_price)


class RemoveItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    product: Product


class UpdateShippingAddress(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    address: NewAddress


class ProcessPayment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    amount: Price
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=40)] = "card"

    def __post_init__(self) -> None:
        check_price("amount", self.amount)


class ShipOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    carrier: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class CancelOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


OrderCommand = (
    PlaceOrder
    | AddItem
    | RemoveItem
    | UpdateShippingAddress
    | ProcessPayment
    | ShipOrder
    | CancelOrder
)
