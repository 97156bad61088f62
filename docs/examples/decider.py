"""A functional decider: decide, evolve and initial_state, through the same repository."""

import asyncio

import msgspec

import eventbook
from eventbook import Decider, DomainError, EventRegistry, Repository


class OrderPlaced(msgspec.Struct, frozen=True):
    customer: str
    total: int


class OrderShipped(msgspec.Struct, frozen=True):
    carrier: str


class PlaceOrder(msgspec.Struct, frozen=True):
    customer: str
    total: int


class ShipOrder(msgspec.Struct, frozen=True):
    carrier: str


class OrderState(msgspec.Struct, frozen=True):
    status: str = "new"
    total: int = 0


Command = PlaceOrder | ShipOrder
Event = OrderPlaced | OrderShipped


def decide(command: Command, state: OrderState) -> list[Event]:
    match command:
        case PlaceOrder(customer=customer, total=total):
            if state.status != "new":
                raise DomainError("placed already")
            return [OrderPlaced(customer, total)]
        case ShipOrder(carrier=carrier):
            if state.status != "placed":
                raise DomainError(f"cannot ship an order that is {state.status}")
            return [OrderShipped(carrier)]


def evolve(state: OrderState, event: Event) -> OrderState:
    match event:
        case OrderPlaced(total=total):
            return OrderState("placed", total)
        case OrderShipped():
            return msgspec.structs.replace(state, status="shipped")


order: Decider[Command, OrderState, Event] = Decider(
    name="Order", decide=decide, evolve=evolve, initial_state=OrderState
)


async def main() -> None:
    # The decider is plain functions: it can be used without any store ...
    assert order.fold([OrderPlaced("Ada", 5)]) == OrderState("placed", 5)

    # ... and through the repository, exactly like a class-style aggregate.
    store = await eventbook.connect("memory://")
    async with store:
        orders = Repository(store, order, EventRegistry([OrderPlaced, OrderShipped]))
        current = await orders.load("order-7")
        current.decide(PlaceOrder("Ada", 5))  # records what decide returned
        await orders.save(current)

        current = await orders.load("order-7")
        current.decide(ShipOrder("UPS"))
        await orders.save(current)
        assert (await orders.load("order-7")).state == OrderState("shipped", 5)
    print("decider: ok")


if __name__ == "__main__":
    asyncio.run(main())
