"""What a client asks of an order, in the imperative. Validated before any handler runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, get_args
from uuid import UUID, uuid5

import msgspec


def whole(pattern: str) -> str:
    """`pattern` (ending in `$`) as msgspec must be given it: it uses Python's `re.search`,
    where `$` also matches before a final newline, so the end must not be one."""
    return pattern.removesuffix("$") + r"(?!\n)$"


ORDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
"""An order id, as the URL's path parameter checks it."""
ORDER_IDS = UUID("3b8f0f6e-52a4-4c8e-9d61-6a0e4f2b7c19")


def new_order_id(source: str) -> str:
    """A new order's id: 16 hex digits derived from `source` (a command id, or the seed's
    order number), so that a retry names the same order and every order id looks alike."""
    return uuid5(ORDER_IDS, source).hex[:16]


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
OrderId = Annotated[str, msgspec.Meta(pattern=whole(ORDER_ID_PATTERN))]
Product = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
MAX_QUANTITY = 10_000
"""The most of one product an order may hold."""
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
Price = Decimal
"""An amount with at most two decimals, from 0 to 1,000,000 (checked by `check_price`)."""
Currency = Literal["EUR", "GBP", "CHF"]
CURRENCIES: tuple[str, ...] = get_args(Currency)
"""The currencies orders are taken in (the read models convert each to euros)."""


MAX_PRICE = Decimal(1_000_000)
"""The largest amount: of a price, of a payment, and so of an order's total."""
CENTS = Decimal("0.01")


def check_price(command: msgspec.Struct, field: str) -> None:
    """msgspec cannot bound a Decimal, so amounts are checked after decoding, and then
    kept in one form ("56", "56.0" and 56 all become 56.00): a retry that writes the same
    amount otherwise is the same command, and stored amounts read back alike."""
    value: Decimal = getattr(command, field)
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or exponent < -2:
        raise ValueError(f"{field} must be a finite amount with at most two decimals")
    if not 0 <= value <= MAX_PRICE:
        raise ValueError(f"{field} must be between 0 and {MAX_PRICE}")
    msgspec.structs.force_setattr(command, field, value.quantize(CENTS))


Line = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class NewAddress(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name
    street: Line
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    postcode: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    country: Annotated[str, msgspec.Meta(pattern=whole(r"^[A-Z]{2}$"))]


class NewLineItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    product: Product
    quantity: Quantity
    unit_price: Price

    def __post_init__(self) -> None:
        check_price(self, "unit_price")


CustomerId = Annotated[str, msgspec.Meta(pattern=whole(r"^[A-Za-z0-9_.:-]{1,64}$"))]
"""A customer's id: what their personal data is encrypted under, and forgotten by."""
Email = Annotated[str, msgspec.Meta(pattern=whole(r"^[^@\s]{1,64}@[^@\s]{1,190}$"))]


class PlaceOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    customer: Name
    items: Annotated[list[NewLineItem], msgspec.Meta(min_length=1, max_length=100)]
    shipping_address: NewAddress
    currency: Currency = "EUR"
    customer_id: CustomerId | None = None
    """Without one, the order is a guest's: forgotten as customer `guest-<order_id>`."""
    email: Email | None = None


class AddItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    order_id: OrderId
    product: Product
    quantity: Quantity
    unit_price: Price

    def __post_init__(self) -> None:
        check_price(self, "unit_price")


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
        check_price(self, "amount")


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
