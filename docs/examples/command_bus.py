"""The command bus: validation, handlers, retries on conflict, de-duplication, metadata."""

import asyncio
from typing import Annotated

import msgspec
from class_aggregate import Order, OrderPlaced, OrderShipped

import eventbook
from eventbook import (
    CommandBus,
    CommandContext,
    CommandMetadata,
    CommandValidationError,
    EventRegistry,
    EventStore,
    Repository,
    aggregate_handler,
)


class PlaceOrder(msgspec.Struct, frozen=True):
    order_id: str
    customer: Annotated[str, msgspec.Meta(min_length=1)]
    total: Annotated[int, msgspec.Meta(ge=1)]


class ShipOrder(msgspec.Struct, frozen=True):
    order_id: str
    carrier: str


def bootstrap(store: EventStore) -> CommandBus:
    """The composition root: every dependency is built here and passed in, no globals."""
    orders = Repository(store, Order, EventRegistry([OrderPlaced, OrderShipped]))

    # A handler is a plain async function of the command and its context ...
    async def place_order(command: PlaceOrder, context: CommandContext) -> None:
        order = await orders.load(f"order-{command.order_id}")
        order.place(command.customer, command.total)
        await orders.save(order, context)  # the context stamps ids and metadata

    bus = CommandBus(store)
    bus.register(PlaceOrder, place_order)
    # ... and aggregate_handler writes the usual load / act / save one for you.
    bus.register(
        ShipOrder,
        aggregate_handler(
            orders,
            stream=lambda command: f"order-{command.order_id}",
            act=lambda order, command: order.ship(command.carrier),
        ),
    )
    return bus


async def main() -> None:
    store = await eventbook.connect("memory://")
    async with store:
        bus = bootstrap(store)

        # Bad commands are refused with every bad field named; nothing is stored.
        try:
            await bus.dispatch_payload("PlaceOrder", {"order_id": "1", "customer": "", "total": 0})
        except CommandValidationError as error:
            print(error)  # PlaceOrder is invalid: customer: ...; total: Expected `int` >= 1, got 0
            print(sorted(error.problems))  # ['customer', 'total']
        assert [e async for e in store.read_all()] == []

        # The caller's idempotency key is the command id: a retry changes nothing.
        metadata = CommandMetadata(command_id="key-123", actor="ada", correlation_id="req-9")
        first = await bus.dispatch(PlaceOrder("1", "Ada", 30), metadata)
        retry = await bus.dispatch(PlaceOrder("1", "Ada", 30), metadata)
        assert retry.duplicate
        assert retry.event_ids == first.event_ids
        assert (first.stream, first.version) == ("order-1", 1)

        await bus.dispatch(ShipOrder("1", "DHL"), CommandMetadata(actor="ada"))
        events = [e async for e in store.read_stream("order-1")]
        assert [e.type for e in events] == ["OrderPlaced", "OrderShipped"]
        placed = events[0].metadata
        assert (placed["command_id"], placed["actor"], placed["correlation_id"]) == (
            "key-123",
            "ada",
            "req-9",
        )

        # Two commands racing on one order: the one that loses the append is retried on fresh
        # state (bounded, jittered backoff), where the rule refuses to ship twice.
        await bus.dispatch(PlaceOrder("2", "Bob", 5))
        outcomes = await asyncio.gather(
            bus.dispatch(ShipOrder("2", "DHL")),
            bus.dispatch(ShipOrder("2", "UPS")),
            return_exceptions=True,
        )
        assert sum(isinstance(o, eventbook.CommandResult) for o in outcomes) == 1
    print("command bus: ok")


if __name__ == "__main__":
    asyncio.run(main())
