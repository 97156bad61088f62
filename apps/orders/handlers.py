"""Command handlers of the Orders service, wired onto a `CommandBus`.

Each handler loads the order, checks the client's `If-Match` version when one was given,
lets the aggregate decide, and saves against the version it loaded. A racing writer makes
the save fail with `ConcurrencyError`; the bus reloads and runs the handler again, and the
version check then reports the mismatch instead of acting on a state the client never saw.
Commands on one order in this process take turns, so only other processes race them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.orders.domain import commands as c
from apps.orders.domain.order import Clock, Order, OrderError, utc_now
from eventbook import CommandBus, CommandContext, CommandHandler, Repository

EXPECTED_VERSION = "expected_version"
"""Metadata key for the stream version the client expects (from `If-Match`)."""


class VersionMismatch(OrderError):
    """The order is not at the version the client expected."""

    def __init__(self, order_id: str, expected: int, actual: int) -> None:
        self.expected, self.actual = expected, actual
        super().__init__(f"order {order_id} is at version {actual}, not {expected}")


def stream_of(order_id: str) -> str:
    return f"order-{order_id}"


Act = Callable[[Order, Any, Clock], None]

ACTIONS: dict[type[Any], Act] = {
    c.PlaceOrder: lambda order, command, now: order.place(command, now),
    c.AddItem: lambda order, command, now: order.add_item(command, now),
    c.RemoveItem: lambda order, command, now: order.remove_item(command, now),
    c.UpdateShippingAddress: lambda order, command, now: order.update_shipping_address(
        command, now
    ),
    c.ProcessPayment: lambda order, command, now: order.process_payment(command, now),
    c.ShipOrder: lambda order, command, now: order.ship(command, now),
    c.CancelOrder: lambda order, command, now: order.cancel(command, now),
}


def order_handler(orders: Repository[Order], act: Act, clock: Clock) -> CommandHandler[Any]:
    async def handle(command: Any, context: CommandContext) -> None:
        stream = stream_of(command.order_id)
        async with context.exclusive(stream):  # this process's commands on it take turns
            order = await orders.load(stream)
            expected = context.metadata.extra.get(EXPECTED_VERSION)
            if expected is not None and order.version != expected:
                raise VersionMismatch(command.order_id, expected, order.version)
            act(order, command, clock)
            await orders.save(order, context)

    return handle


def register_handlers(
    bus: CommandBus, orders: Repository[Order], *, clock: Clock = utc_now
) -> None:
    """Route every order command to its handler; events are stamped with `clock`'s time
    (real UTC time, unless a caller such as the seeder or a test simulates it)."""
    for command_type, act in ACTIONS.items():
        bus.register(command_type, order_handler(orders, act, clock))
