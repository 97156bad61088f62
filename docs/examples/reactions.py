"""Correlation and causation: from a command to its events to the commands a reaction issues."""

import asyncio

from command_bus import PlaceOrder, ShipOrder, bootstrap

import eventbook
from eventbook import CommandMetadata


async def main() -> None:
    store = await eventbook.connect("memory://")
    async with store:
        bus = bootstrap(store)
        await bus.dispatch(
            PlaceOrder("1", "Ada", 30), CommandMetadata(correlation_id="checkout-77", actor="ada")
        )

        # A reaction (a process manager, an automation) reads an event and issues a command.
        (placed,) = [e async for e in store.read_all(types=["OrderPlaced"])]
        metadata = CommandMetadata.caused_by(placed, reaction="ship-when-placed")
        await bus.dispatch(ShipOrder("1", "DHL"), metadata)
        # Seeing the same event again issues the same command id: nothing happens twice.
        again = CommandMetadata.caused_by(placed, reaction="ship-when-placed")
        assert (await bus.dispatch(ShipOrder("1", "DHL"), again)).duplicate

        shipped = [e async for e in store.read_stream("order-1")][1]
        assert shipped.metadata["correlation_id"] == "checkout-77"  # the whole conversation
        assert shipped.metadata["causation_id"] == str(placed.id)  # what led to it
        assert shipped.metadata["actor"] == "ada"
    print("reactions: ok")


if __name__ == "__main__":
    asyncio.run(main())
