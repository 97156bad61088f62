"""The state cache: keep recently saved states in memory so commands skip most reads."""

import asyncio
from typing import Any

from class_aggregate import Order, OrderPlaced, OrderShipped
from command_bus import PlaceOrder, ShipOrder

import eventbook
from eventbook import CommandBus, EventRegistry, Repository, aggregate_handler


class CachedOrder(Order):
    # The cache keeps states as snapshots, so the aggregate says how to take one.
    def to_snapshot(self) -> dict[str, Any]:
        return {"status": self.status, "total": self.total}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.status, self.total = state["status"], state["total"]


async def main() -> None:
    store = await eventbook.connect("memory://")
    async with store:
        events = EventRegistry([OrderPlaced, OrderShipped])
        orders = Repository(store, CachedOrder, events, cache_size=10_000)
        bus = CommandBus(store)
        bus.register(
            PlaceOrder,
            aggregate_handler(
                orders,
                stream=lambda c: f"order-{c.order_id}",
                act=lambda order, c: order.place(c.customer, c.total),
            ),
        )
        bus.register(
            ShipOrder,
            aggregate_handler(
                orders,
                stream=lambda c: f"order-{c.order_id}",
                act=lambda order, c: order.ship(c.carrier),
            ),
        )
        await bus.dispatch(PlaceOrder("1", "Ada", 30))

        # Another process ships the order; this process's cache does not know.
        elsewhere = Repository(store, Order, events)
        order = await elsewhere.load("order-1")
        order.ship("DHL")
        await elsewhere.save(order)

        # A normal load starts from the cached state and reads only the newer events.
        assert (await orders.load("order-1")).status == "shipped"

        # Command handlers act on the cached state without reading first; the append's
        # expected version rejects a stale state, and a refusal decided on a cached
        # state is decided again on a verified load before it counts.
        try:
            await bus.dispatch(ShipOrder("1", "UPS"))
        except eventbook.DomainError as refused:
            print("refused on the current state:", refused)
        assert orders.cache is not None
        print(f"cache hits {orders.cache.hits}, misses {orders.cache.misses}")
    print("state cache: ok")


if __name__ == "__main__":
    asyncio.run(main())
