"""Time travel: an aggregate as of a version, or as of a moment in the past (read-only)."""

import asyncio

from class_aggregate import Order, OrderPlaced, OrderShipped

import eventbook
from eventbook import EventRegistry, Repository, ValidationError


async def main() -> None:
    store = await eventbook.connect("memory://")
    async with store:
        orders = Repository(store, Order, EventRegistry([OrderPlaced, OrderShipped]))
        order = await orders.load("order-1")
        order.place("Ada", 30)
        await orders.save(order)
        await asyncio.sleep(0.01)
        order.ship("DHL")
        await orders.save(order)
        placed = [e async for e in store.read_stream("order-1", limit=1)]
        placed_at = placed[0].recorded_at

        assert (await orders.load("order-1", at_version=1)).status == "placed"
        then = await orders.load("order-1", as_of=placed_at)  # compared with recorded_at
        assert (then.version, then.status) == (1, "placed")

        then.ship("UPS")
        try:
            await orders.save(then)  # the past cannot be changed
        except ValidationError as error:
            print(error)  # 'order-1' was loaded as of ...; history is read-only
        else:
            raise AssertionError("saving history must fail")
    print("time travel: ok")


if __name__ == "__main__":
    asyncio.run(main())
