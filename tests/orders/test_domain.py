"""The Order's rules, specified with given / when / then."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import msgspec
import pytest
from apps.orders.domain import commands as c
from apps.orders.domain.events import (
    Address,
    ItemAdded,
    ItemRemoved,
    LineItem,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentProcessed,
    RefundIssued,
    ShippingAddressUpdated,
    order_events,
)
from apps.orders.domain.order import (
    ItemNotInOrder,
    LastItem,
    Order,
    OrderAlreadyPlaced,
    OrderAlreadyShipped,
    OrderCancelledAlready,
    OrderError,
    OrderNotFound,
    OrderNotOpen,
    OrderNotPaid,
    PaymentAmountMismatch,
)
from apps.orders.read_models.common import EUR_PER_UNIT

from eventbook.testing.scenarios import scenario, stored

NOW = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)
ADDRESS = Address("Ada Lovelace", "12 St James's Sq", "London", "SW1Y 4JH", "GB")
NEW_ADDRESS = c.NewAddress("Ada Lovelace", "1 Baker St", "London", "NW1 6XE", "GB")


def clock() -> datetime:
    return NOW


def placed(*items: LineItem) -> OrderPlaced:
    lines = list(items) or [LineItem("kettle", 2, Decimal("25.00"))]
    return OrderPlaced("o1", "Ada", lines, ADDRESS, "EUR", NOW, customer_id="guest-o1")


PAID = PaymentProcessed("o1", Decimal("50.00"), "card", NOW)
spec = scenario(Order, events=order_events())


def test_placing_an_order_merges_repeated_products() -> None:
    command = c.PlaceOrder(
        "o1",
        "Ada",
        [
            c.NewLineItem("kettle", 1, Decimal("25.00")),
            c.NewLineItem("kettle", 1, Decimal("25.00")),
        ],
        c.NewAddress(*msgspec.structs.astuple(ADDRESS)),
    )
    spec.given().when(lambda o: o.place(command, clock)).then(placed())


def test_an_order_is_placed_once() -> None:
    command = c.PlaceOrder("o1", "Ada", [c.NewLineItem("tea", 1, Decimal(3))], NEW_ADDRESS)
    spec.given(placed()).when(lambda o: o.place(command, clock)).then_error(OrderAlreadyPlaced)


def test_items_change_while_the_order_is_open() -> None:
    add = c.AddItem("o1", "mug", 2, Decimal("4.50"))
    spec.given(placed()).when(lambda o: o.add_item(add, clock)).then(
        ItemAdded("o1", LineItem("mug", 2, Decimal("4.50")), NOW)
    )
    two = placed(LineItem("kettle", 1, Decimal(25)), LineItem("mug", 1, Decimal(4)))
    spec.given(two).when(lambda o: o.remove_item(c.RemoveItem("o1", "mug"), clock)).then(
        ItemRemoved("o1", "mug", NOW)
    )


def test_the_same_product_keeps_its_price() -> None:
    add = c.AddItem("o1", "kettle", 1, Decimal("19.00"))
    spec.given(placed()).when(lambda o: o.add_item(add, clock)).then_error(
        OrderError, match="costs 25.00"
    )


def test_the_last_item_cannot_be_removed() -> None:
    spec.given(placed()).when(
        lambda o: o.remove_item(c.RemoveItem("o1", "kettle"), clock)
    ).then_error(LastItem)


def test_removing_an_item_that_is_not_there() -> None:
    spec.given(placed()).when(
        lambda o: o.remove_item(c.RemoveItem("o1", "spoon"), clock)
    ).then_error(ItemNotInOrder, match="spoon")


def test_items_are_fixed_once_paid() -> None:
    add = c.AddItem("o1", "mug", 1, Decimal(4))
    spec.given(placed(), PAID).when(lambda o: o.add_item(add, clock)).then_error(
        OrderNotOpen, match="paid"
    )


def test_payment_must_equal_the_total() -> None:
    pay = c.ProcessPayment("o1", Decimal("49.99"))
    spec.given(placed()).when(lambda o: o.process_payment(pay, clock)).then_error(
        PaymentAmountMismatch, match="50.00"
    )
    exact = c.ProcessPayment("o1", Decimal("50.00"))
    spec.given(placed()).when(lambda o: o.process_payment(exact, clock)).then(PAID)


def test_shipping_needs_payment() -> None:
    ship = c.ShipOrder("o1", "DHL")
    spec.given(placed()).when(lambda o: o.ship(ship, clock)).then_error(OrderNotPaid)
    spec.given(placed(), PAID).when(lambda o: o.ship(ship, clock)).then(
        OrderShipped("o1", "DHL", NOW)
    )
    shipped = OrderShipped("o1", "DHL", NOW)
    spec.given(placed(), PAID, shipped).when(lambda o: o.ship(ship, clock)).then_error(
        OrderAlreadyShipped
    )


def test_cancelling_a_paid_order_refunds_it() -> None:
    cancel = c.CancelOrder("o1", "changed my mind")
    spec.given(placed(), PAID).when(lambda o: o.cancel(cancel, clock)).then(
        OrderCancelled("o1", "changed my mind", NOW), RefundIssued("o1", Decimal("50.00"), NOW)
    )
    spec.given(placed()).when(lambda o: o.cancel(cancel, clock)).then(
        OrderCancelled("o1", "changed my mind", NOW)
    )


def test_a_shipped_order_cannot_be_cancelled() -> None:
    cancel = c.CancelOrder("o1", "too late")
    shipped = OrderShipped("o1", "DHL", NOW)
    spec.given(placed(), PAID, shipped).when(lambda o: o.cancel(cancel, clock)).then_error(
        OrderAlreadyShipped
    )
    cancelled = OrderCancelled("o1", "x", NOW)
    spec.given(placed(), cancelled).when(lambda o: o.cancel(cancel, clock)).then_error(
        OrderCancelledAlready
    )


def test_the_address_changes_until_shipment() -> None:
    update = c.UpdateShippingAddress("o1", NEW_ADDRESS)
    new = Address(*msgspec.structs.astuple(NEW_ADDRESS))
    spec.given(placed(), PAID).when(lambda o: o.update_shipping_address(update, clock)).then(
        ShippingAddressUpdated("o1", new, NOW, customer_id="guest-o1")
    )
    shipped = OrderShipped("o1", "DHL", NOW)
    spec.given(placed(), PAID, shipped).when(
        lambda o: o.update_shipping_address(update, clock)
    ).then_error(OrderAlreadyShipped)


def test_commands_on_a_missing_order() -> None:
    spec.given().when(lambda o: o.ship(c.ShipOrder("o9", "DHL"), clock)).then_error(OrderNotFound)


def test_version_one_orders_are_read_as_euros() -> None:
    v1 = {
        "order_id": "o1",
        "customer": "Ada",
        "items": [{"product": "kettle", "quantity": 2, "unit_price": "25.00"}],
        "shipping_address": msgspec.to_builtins(ADDRESS),
        "at": NOW.isoformat(),
    }
    order = (
        spec.given(stored("OrderPlaced", v1, version=1))
        .when(lambda o: o.process_payment(c.ProcessPayment("o1", Decimal(50)), clock))
        .then(PaymentProcessed("o1", Decimal(50), "card", NOW))
    )
    assert order.currency == "EUR"


def test_snapshots_round_trip() -> None:
    order = Order()
    for event in (placed(), PAID):
        order.apply(event)
    copy = Order()
    copy.restore_snapshot(order.to_snapshot())
    assert copy.view() == order.view()
    assert copy.total == Decimal("50.00")


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "o1", "customer": "", "items": [], "shipping_address": {}},
        {"order_id": "bad id!", "customer": "Ada", "items": [], "shipping_address": {}},
        {
            "order_id": "o1",
            "customer": "Ada",
            "items": [{"product": "tea", "quantity": 1, "unit_price": "0.001"}],
            "shipping_address": msgspec.to_builtins(NEW_ADDRESS),
        },
        {
            "order_id": "o1",
            "customer": "Ada",
            "items": [{"product": "tea", "quantity": 1, "unit_price": "-1"}],
            "shipping_address": msgspec.to_builtins(NEW_ADDRESS),
        },
        {
            "order_id": "o1",
            "customer": "Ada",
            "items": [{"product": "tea", "quantity": 1, "unit_price": "NaN"}],
            "shipping_address": msgspec.to_builtins(NEW_ADDRESS),
        },
    ],
)
def test_bad_commands_are_refused_with_the_field(payload: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(payload, c.PlaceOrder)


async def test_two_processes_registering_one_key_both_start() -> None:
    from apps.orders.api_keys import ApiKeys, Role

    from eventbook._backends.memory import MemoryEventStore

    store = MemoryEventStore()
    first, second = ApiKeys(store), ApiKeys(store)  # both loaded nothing: the start-up race
    await first.register("shared-key", Role.WRITER, "from the environment")
    await second.register("shared-key", Role.WRITER, "from the environment")
    assert second.role_of("shared-key") is Role.WRITER
    assert len([e async for e in store.read_all(categories=["apikey"])]) == 1


def test_every_accepted_currency_has_a_rate_to_euros() -> None:
    assert set(EUR_PER_UNIT) == set(c.CURRENCIES)
