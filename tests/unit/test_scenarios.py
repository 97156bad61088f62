"""Given / when / then specifications: both aggregate styles, and readable failures."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from eventbook import EventRegistry
from eventbook.testing.scenarios import scenario, stored
from tests.unit.write_domain import (
    CancelOrder,
    Order,
    OrderAlreadyPlaced,
    OrderAlreadyShipped,
    OrderCancelled,
    OrderNotPlaced,
    OrderPlaced,
    OrderShipped,
    PlaceOrder,
    ShipOrder,
    order_decider,
    order_events,
)

PLACED = OrderPlaced("ann", 10, "EUR")


def test_class_aggregate_scenarios_pass() -> None:
    order = scenario(Order).given(PLACED).when(lambda o: o.ship("DHL")).then(OrderShipped("DHL"))
    assert (order.version, order.status) == (1, "shipped")
    scenario(Order).given().when(lambda o: o.place("ann", 10)).then(PLACED)
    error = scenario(Order).given().when(lambda o: o.ship("DHL")).then_error(OrderNotPlaced)
    assert isinstance(error, OrderNotPlaced)
    scenario(Order).given(PLACED).when(lambda o: o.place("x", 1)).then_error(
        OrderAlreadyPlaced, match="scenario"
    )
    scenario(Order).given(PLACED, OrderCancelled("late")).when(
        lambda o: o.cancel("again")
    ).then_nothing()


def test_decider_scenarios_pass() -> None:
    spec = scenario(order_decider)
    state = spec.given(PLACED).when(ShipOrder("1", "DHL")).then(OrderShipped("DHL")).state
    assert state.status == "shipped"
    spec.given().when(PlaceOrder("1", "ann", 10)).then(PLACED)
    spec.given().when(ShipOrder("1", "DHL")).then_error(OrderNotPlaced)
    spec.given(PLACED, OrderCancelled("x")).when(CancelOrder("1", "again")).then_nothing()
    # a function of the aggregate works for deciders too
    spec.given(PLACED).when(lambda o: o.decide(ShipOrder("1", "UPS"))).then(OrderShipped("UPS"))


def test_with_a_registry_events_go_through_serialisation_and_upcasting() -> None:
    events = order_events()
    scenario(order_decider, events=events).given(
        stored("OrderPlaced", {"customer": "ann", "total": 10}),  # schema version 1
        stored("OrderShipped", {"carrier": "DHL"}),
    ).when(ShipOrder("1", "UPS")).then_error(OrderAlreadyShipped)

    class Lossy(msgspec.Struct, frozen=True):
        values: list[str]

    lossy = EventRegistry([OrderPlaced, Lossy])

    class Collector(Order):
        def collect(self) -> None:
            self.record(Lossy(("a",)))  # type: ignore[arg-type]  # a tuple comes back a list

    with pytest.raises(AssertionError, match=r"does not survive serialisation"):
        scenario(Collector, events=lossy).given().when(lambda o: o.collect()).then(Lossy(("a",)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="need scenario"):
        scenario(Order).given(stored("OrderPlaced", {})).when(lambda o: None).then()


class Measured(msgspec.Struct, frozen=True):
    value: Any


class Gauge(Order):
    def measure(self, value: Any) -> None:
        self.record(Measured(value))  # type: ignore[arg-type]

    async def measure_later(self, value: Any) -> None:
        self.measure(value)


def test_events_are_checked_through_json_as_the_store_keeps_them() -> None:
    events = EventRegistry([OrderPlaced, Measured])
    spec = scenario(Gauge, events=events)
    spec.given().when(lambda g: g.measure([1, 2])).then(Measured([1, 2]))
    with pytest.raises(AssertionError, match=r"does not survive serialisation"):
        spec.given().when(lambda g: g.measure((1, 2))).then(Measured((1, 2)))  # a list in JSON
    with pytest.raises(AssertionError, match=r"cannot be stored: .*NaN"):
        spec.given().when(lambda g: g.measure(float("nan"))).then_nothing()
    with pytest.raises(AssertionError, match=r"cannot be stored: .*inf"):
        spec.given().when(lambda g: g.measure({"peak": float("inf")})).then_nothing()


def test_an_async_action_is_refused_rather_than_skipped() -> None:
    with pytest.raises(TypeError, match="async action"):
        scenario(Gauge).given().when(lambda g: g.measure_later(1)).then_nothing()


def failure(run: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        run()
    return str(caught.value)


def test_wrong_events_are_shown_side_by_side() -> None:
    message = failure(
        lambda: (
            scenario(Order).given(PLACED).when(lambda o: o.ship("DHL")).then(OrderShipped("UPS"))
        )
    )
    assert message == (
        "Order scenario (given 1 event, when a function):\n"
        "expected 1 event, got 1 event:\n"
        "  1. expected OrderShipped(carrier='UPS')\n"
        "     got      OrderShipped(carrier='DHL')"
    )
    message = failure(
        lambda: (
            scenario(order_decider)
            .given()
            .when(PlaceOrder("1", "ann", 10))
            .then(PLACED, OrderShipped("DHL"))
        )
    )
    assert "when PlaceOrder(order_id='1', customer='ann', total=10, currency='EUR')" in message
    assert "expected 2 events, got 1 event:" in message
    assert f"  1. {PLACED!r}" in message
    assert "  2. expected OrderShipped(carrier='DHL')\n     got      (nothing)" in message


def test_unexpected_errors_and_unexpected_success_are_explained() -> None:
    message = failure(
        lambda: scenario(Order).given().when(lambda o: o.ship("DHL")).then(OrderShipped("DHL"))
    )
    assert "expected 1 event:\n  1. OrderShipped(carrier='DHL')\n" in message
    assert "\nbut the command raised OrderNotPlaced(" in message

    message = failure(
        lambda: (
            scenario(Order).given(PLACED).when(lambda o: o.ship("DHL")).then_error(OrderNotPlaced)
        )
    )
    assert "expected OrderNotPlaced, but the command succeeded with 1 event:" in message

    message = failure(
        lambda: scenario(Order).given().when(lambda o: o.ship("DHL")).then_error(OrderAlreadyPlaced)
    )
    assert "expected OrderAlreadyPlaced, but it raised OrderNotPlaced(" in message

    message = failure(
        lambda: (
            scenario(Order)
            .given()
            .when(lambda o: o.ship("DHL"))
            .then_error(OrderNotPlaced, match="nope")
        )
    )
    assert "expected OrderNotPlaced matching 'nope', but the message was" in message

    message = failure(
        lambda: scenario(Order).given(PLACED).when(lambda o: o.ship("DHL")).then_nothing()
    )
    assert "expected no events, but got 1 event:\n  1. OrderShipped(carrier='DHL')" in message

    message = failure(lambda: scenario(Order).given().when(lambda o: o.ship("DHL")).then_nothing())
    assert "expected no events, but the command raised OrderNotPlaced(" in message


def test_recording_before_raising_is_caught() -> None:
    class Careless(Order):
        def place_twice(self) -> None:
            self.record(PLACED)
            raise OrderAlreadyPlaced("checked too late")

    message = failure(
        lambda: (
            scenario(Careless)
            .given()
            .when(lambda o: o.place_twice())
            .then_error(OrderAlreadyPlaced)
        )
    )
    assert "raised OrderAlreadyPlaced as expected, but recorded 1 event before it:" in message


def test_misuse_is_explained() -> None:
    with pytest.raises(TypeError, match="when\\(\\) takes a function"):
        scenario(Order).given().when(ShipOrder("1", "DHL")).then()
    with pytest.raises(TypeError, match="Aggregate subclass or a Decider"):
        scenario(object)  # type: ignore[call-overload]
