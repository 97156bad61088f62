"""A class-style aggregate: command methods check rules and record events; apply evolves."""

import asyncio

import msgspec

import eventbook
from eventbook import Aggregate, DomainError, EventRegistry, Repository


class OrderPlaced(msgspec.Struct, frozen=True):
    customer: str
    total: int


class OrderShipped(msgspec.Struct, frozen=True):
    carrier: str


class OrderNotPlaced(DomainError):
    pass


class Order(Aggregate[OrderPlaced | OrderShipped]):
    def __init__(self) -> None:
        super().__init__()
        self.status = "new"
        self.total = 0

    # Command methods: check the rules against the current state, then record.
    def place(self, customer: str, total: int) -> None:
        if self.status != "new":
            raise DomainError(f"{self.stream} is placed already")
        self.record(OrderPlaced(customer, total))

    def ship(self, carrier: str) -> None:
        if self.status != "placed":
            raise OrderNotPlaced(f"{self.stream} is {self.status}")  # records nothing
        self.record(OrderShipped(carrier))

    # The only place state changes, for stored and new events alike.
    def apply(self, event: OrderPlaced | OrderShipped) -> None:
        match event:
            case OrderPlaced(total=total):
                self.status, self.total = "placed", total
            case OrderShipped():
                self.status = "shipped"


async def main() -> None:
    store = await eventbook.connect("memory://")
    async with store:
        orders = Repository(store, Order, EventRegistry([OrderPlaced, OrderShipped]))

        order = await orders.load("order-1")  # a new stream: a fresh order at version 0
        try:
            order.ship("DHL")
        except OrderNotPlaced:
            assert order.pending_events == ()
        order.place("Ada", 30)
        await orders.save(order)  # appends with expected version 0 (no stream)

        order = await orders.load("order-1")
        order.ship("DHL")
        result = await orders.save(order)  # appends with expected version 1
        assert result is not None
        assert result.version == 2

        again = await orders.load("order-1")
        assert (again.version, again.status, again.total) == (2, "shipped", 30)
    print("class aggregate: ok")


if __name__ == "__main__":
    asyncio.run(main())
