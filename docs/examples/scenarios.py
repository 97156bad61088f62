"""Given / when / then specifications, for class aggregates and deciders alike.

In a test suite each `then...` line is a test; run directly, this file checks them all.
"""

import decider
from class_aggregate import Order, OrderNotPlaced, OrderPlaced, OrderShipped

from eventbook import DomainError, EventRegistry
from eventbook.testing.scenarios import scenario, stored


def test_a_placed_order_can_be_shipped() -> None:
    scenario(Order).given(OrderPlaced("Ada", 30)).when(lambda o: o.ship("DHL")).then(
        OrderShipped("DHL")
    )


def test_a_new_order_cannot_be_shipped() -> None:
    scenario(Order).given().when(lambda o: o.ship("DHL")).then_error(OrderNotPlaced)


def test_the_decider_ships_once() -> None:
    spec = scenario(decider.order)  # commands go to decide(command, state)
    placed, shipped = decider.OrderPlaced("Ada", 30), decider.OrderShipped("DHL")
    spec.given(placed).when(decider.ShipOrder("DHL")).then(shipped)
    spec.given(placed, shipped).when(decider.ShipOrder("UPS")).then_error(
        DomainError, match="shipped"
    )


def test_stored_events_go_through_the_registry() -> None:
    events = EventRegistry([OrderPlaced, OrderShipped])
    scenario(Order, events=events).given(
        stored("OrderPlaced", {"customer": "Ada", "total": 1})
    ).when(lambda o: o.ship("DHL")).then(OrderShipped("DHL"))


def test_failures_read_well() -> None:
    try:
        scenario(Order).given(OrderPlaced("Ada", 30)).when(lambda o: o.ship("DHL")).then(
            OrderShipped("UPS")
        )
    except AssertionError as failure:
        print(failure)  # lists the expected and the recorded events side by side
    else:
        raise AssertionError("the scenario should have failed")


if __name__ == "__main__":
    for name, test in list(globals().items()):
        if name.startswith("test_"):
            test()
    print("scenarios: ok")
