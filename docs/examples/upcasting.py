"""Upcasters: events written in an older shape are read in the current one, everywhere."""

import asyncio
from typing import Any

import msgspec

import eventbook
from eventbook import EventRegistry, NewEvent


class OrderPlaced(msgspec.Struct, frozen=True):  # version 2 added the currency
    customer: str
    total: int
    currency: str


def add_currency(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "currency": "EUR"}  # every v1 order was in euros


async def main() -> None:
    events = EventRegistry()
    events.register(OrderPlaced, version=2)
    events.add_upcaster("OrderPlaced", 1, add_currency)  # v1 -> v2
    # A renamed type is an upcast too: "OrderCreated" v1 continues as "OrderPlaced" v2.
    events.add_upcaster("OrderCreated", 1, add_currency, rename_to="OrderPlaced")

    store = await eventbook.connect("memory://")
    async with store:
        await store.append("order-1", [NewEvent("OrderCreated", {"customer": "Ann", "total": 5})])
        await store.append(
            "order-2",
            [NewEvent("OrderPlaced", {"customer": "Bob", "total": 7}, {"schema_version": 1})],
        )
        await store.append(
            "order-3", await events.serialise("order-3", [OrderPlaced("Cy", 9, "USD")])
        )
        stored = [e async for e in store.read_all()]

        # Typed reads (what repositories do) ...
        assert await events.deserialise(stored) == [
            OrderPlaced("Ann", 5, "EUR"),
            OrderPlaced("Bob", 7, "EUR"),
            OrderPlaced("Cy", 9, "USD"),
        ]
        # ... and plain reads in the current shape (what projections and tools do).
        current = await events.upcast(stored)
        assert {(e.type, e.metadata["schema_version"]) for e in current} == {("OrderPlaced", 2)}
        assert current[0].data == {"customer": "Ann", "total": 5, "currency": "EUR"}
        # The store still holds what was written.
        assert stored[0].type == "OrderCreated"
    print("upcasting: ok")


if __name__ == "__main__":
    asyncio.run(main())
