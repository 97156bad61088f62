"""Conversions every Orders read model shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eventbook import STREAM_DELETED, RecordedEvent

# Reference rates into euros, for analytics that add up orders in several currencies.
EUR_PER_UNIT = {"EUR": Decimal(1), "GBP": Decimal("1.17"), "CHF": Decimal("1.06")}


def cents(amount: str | Decimal) -> int:
    return int(Decimal(amount) * 100)


def eur_cents(amount: str | Decimal, currency: str) -> int:
    return int(Decimal(amount) * EUR_PER_UNIT.get(currency, Decimal(1)) * 100)


def order_id(event: RecordedEvent) -> str:
    value: str = event.data["order_id"]
    return value


def order_stream(event: RecordedEvent) -> str:
    """The order stream an event is about: its own, or for a deletion (recorded in the
    order's metadata stream) the stream it deleted. Partitioned by it, an order's deletion
    is handled by the partition that handled its other events, after them."""
    if event.type == STREAM_DELETED:
        deleted: str = event.data["stream"]
        return deleted
    return event.stream


def address_text(address: dict[str, Any]) -> str:
    return ", ".join(
        str(address[k]) for k in ("name", "street", "postcode", "city", "country") if address.get(k)
    )
