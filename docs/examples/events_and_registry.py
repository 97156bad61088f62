"""Typed events, stable names and schema versions: the event registry."""

import asyncio
import dataclasses

import msgspec

import eventbook
from eventbook import EventRegistry, UnknownEventType


class OrderPlaced(msgspec.Struct, frozen=True):  # a msgspec Struct ...
    customer: str
    total: int


@dataclasses.dataclass(frozen=True)  # ... or a dataclass
class OrderShipped:
    carrier: str


async def main() -> None:
    events = EventRegistry()
    events.register(OrderPlaced)  # stored as "OrderPlaced", schema version 1
    events.register(OrderShipped, name="order-shipped")  # a name of your choosing

    store = await eventbook.connect("memory://")
    async with store:
        new = await events.serialise(
            "order-42", [OrderPlaced("Ada", 10), OrderShipped("DHL")], metadata={"actor": "ada"}
        )
        await store.append("order-42", new)

        stored = [e async for e in store.read_stream("order-42")]
        assert [e.type for e in stored] == ["OrderPlaced", "order-shipped"]
        assert stored[0].metadata == {"actor": "ada", "schema_version": 1}
        assert await events.deserialise(stored) == [OrderPlaced("Ada", 10), OrderShipped("DHL")]

        # A type nobody registered is named in the error, or handed back raw on request.
        await store.append("order-42", [eventbook.NewEvent("OrderLost", {"where": "sea"})])
        stored = [e async for e in store.read_stream("order-42")]
        try:
            await events.deserialise(stored)
        except UnknownEventType as error:
            print(error)  # stored event type 'OrderLost' (stream 'order-42', version 3) is not ...
        kept = await events.deserialise(stored, unknown="keep")
        assert isinstance(kept[2], eventbook.RecordedEvent)
    print("events and registry: ok")


if __name__ == "__main__":
    asyncio.run(main())
