"""Upcasters: old stored data is read in the current shape on every read path."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from eventbook import (
    EventRegistry,
    EventSchemaError,
    EventStore,
    NewEvent,
    Repository,
    ValidationError,
)
from eventbook.testing.scenarios import scenario, stored
from tests.unit.write_domain import (
    Order,
    OrderPlaced,
    OrderShipped,
    order_decider,
    order_events,
    store,
    stored_events,
)

__all__ = ["store"]  # the fixture

V1 = NewEvent("OrderPlaced", {"customer": "ann", "total": 10}, {"schema_version": 1})
V1_UNMARKED = NewEvent("OrderPlaced", {"customer": "bob", "total": 20})  # no version: 1
V2 = NewEvent(
    "OrderPlaced", {"customer": "cy", "total": 30, "currency": "USD"}, {"schema_version": 2}
)


async def test_v1_and_v2_events_are_read_as_v2_everywhere(store: EventStore) -> None:
    await store.append("order-1", [V1])
    await store.append("order-2", [V1_UNMARKED])
    await store.append("order-3", [V2])
    events = order_events()
    recorded = await stored_events(store)
    expected = [
        OrderPlaced("ann", 10, "EUR"),
        OrderPlaced("bob", 20, "EUR"),
        OrderPlaced("cy", 30, "USD"),
    ]

    # the one function every reader calls (projections, tools): plain data, current shape
    current = await events.upcast(recorded)
    assert [(e.type, e.metadata["schema_version"]) for e in current] == [("OrderPlaced", 2)] * 3
    assert [e.data for e in current] == [msgspec.to_builtins(e) for e in expected]
    assert [e.position for e in current] == [e.position for e in recorded]

    # typed reads
    assert await events.deserialise(recorded) == expected

    # both aggregate styles, through the repository
    orders = Repository(store, Order, events)
    decided = Repository(store, order_decider, events)
    for stream, event in zip(("order-1", "order-2", "order-3"), expected, strict=True):
        order = await orders.load(stream)
        assert (order.status, order.total) == ("placed", event.total)
        state = (await decided.load(stream)).state
        assert (state.status, state.total) == ("placed", event.total)

    # and in given/when/then specifications
    scenario(Order, events=events).given(
        stored("OrderPlaced", {"customer": "ann", "total": 10})
    ).when(lambda order: order.ship("DHL")).then(OrderShipped("DHL"))


async def test_upcasting_leaves_the_stored_data_alone(store: EventStore) -> None:
    def mutate(data: dict[str, Any]) -> dict[str, Any]:
        data["currency"] = "EUR"
        data["customer"] = data["customer"].upper()
        return data

    events = EventRegistry()
    events.register(OrderPlaced, version=2)
    events.add_upcaster("OrderPlaced", 1, mutate)
    await store.append("order-1", [V1])
    first = await events.deserialise(await stored_events(store))
    second = await events.deserialise(await stored_events(store))
    assert first == second == [OrderPlaced("ANN", 10, "EUR")]
    assert (await stored_events(store))[0].data == {"customer": "ann", "total": 10}


async def test_a_rename_is_an_upcast_and_chains_on(store: EventStore) -> None:
    class OrderSubmitted(msgspec.Struct, frozen=True):  # OrderCreated v1 -> v2 -> renamed v3
        customer: str
        total: int
        currency: str
        channel: str

    events = EventRegistry()
    events.register(OrderSubmitted, version=3)
    events.add_upcaster("OrderCreated", 1, lambda d: {**d, "currency": "EUR"})
    events.add_upcaster("OrderCreated", 2, rename_to="OrderSubmitted")
    await store.append("order-1", [NewEvent("OrderCreated", {"customer": "a", "total": 1})])
    await store.append(
        "order-2",
        [
            NewEvent(
                "OrderCreated",
                {"customer": "b", "total": 2, "currency": "GBP"},
                {"schema_version": 2},
            )
        ],
    )
    # a rename alone moves the name and the version on, but not the data
    with pytest.raises(
        EventSchemaError, match=r"OrderSubmitted v3 .* missing required field `channel`"
    ):
        await events.deserialise(await stored_events(store))

    events = EventRegistry()
    events.register(OrderSubmitted, version=3)
    events.add_upcaster("OrderCreated", 1, lambda d: {**d, "currency": "EUR"})
    events.add_upcaster(
        "OrderCreated", 2, lambda d: {**d, "channel": "web"}, rename_to="OrderSubmitted"
    )
    current = await events.upcast(await stored_events(store))
    assert [(e.type, e.metadata["schema_version"]) for e in current] == [("OrderSubmitted", 3)] * 2
    assert await events.deserialise(await stored_events(store)) == [
        OrderSubmitted("a", 1, "EUR", "web"),
        OrderSubmitted("b", 2, "GBP", "web"),
    ]


async def test_gaps_and_newer_data_are_reported_not_misread(store: EventStore) -> None:
    events = EventRegistry()
    events.register(OrderPlaced, version=2)  # no upcaster from version 1
    await store.append("order-1", [V1])
    with pytest.raises(
        EventSchemaError, match=r"no upcaster takes OrderPlaced from schema version 1"
    ):
        await events.deserialise(await stored_events(store))

    newer = NewEvent(
        "OrderPlaced", {"customer": "a", "total": 1, "currency": "EUR"}, {"schema_version": 3}
    )
    await store.append("order-2", [newer])
    with pytest.raises(EventSchemaError, match="newer than the registered version 2"):
        await order_events().deserialise(await stored_events(store, "order-2"))

    odd = NewEvent("OrderPlaced", {"customer": "a", "total": 1}, {"schema_version": "1"})
    await store.append("order-3", [odd])
    with pytest.raises(EventSchemaError, match="not an int"):
        await order_events().deserialise(await stored_events(store, "order-3"))


async def test_a_failing_or_misbehaving_upcaster_is_named(store: EventStore) -> None:
    await store.append("order-1", [V1])
    failing = EventRegistry()
    failing.register(OrderPlaced, version=2)
    failing.add_upcaster("OrderPlaced", 1, lambda d: {**d, "currency": d["missing"]})
    with pytest.raises(EventSchemaError, match=r"upcaster for OrderPlaced v1 failed: KeyError"):
        await failing.deserialise(await stored_events(store))
    not_a_dict = EventRegistry()
    not_a_dict.register(OrderPlaced, version=2)
    not_a_dict.add_upcaster("OrderPlaced", 1, lambda d: [d])  # type: ignore[arg-type,return-value]
    with pytest.raises(EventSchemaError, match="returned a list"):
        await not_a_dict.upcast(await stored_events(store))


def test_upcaster_registration_mistakes() -> None:
    events = order_events()
    with pytest.raises(ValidationError, match="already has an upcaster"):
        events.add_upcaster("OrderPlaced", 1, lambda d: d)
    with pytest.raises(ValidationError, match="registered at version 2"):
        events.add_upcaster("OrderPlaced", 2, lambda d: d)
    with pytest.raises(ValidationError, match="needs a function"):
        events.add_upcaster("OrderDispatched", 1)
    with pytest.raises(ValidationError, match="1 or more"):
        events.add_upcaster("Old", 0, lambda d: d)
    with pytest.raises(ValidationError, match="not callable"):
        events.add_upcaster("Old", 1, "nope")  # type: ignore[arg-type]

    later = EventRegistry()
    later.add_upcaster("OrderPlaced", 2, lambda d: d)
    with pytest.raises(ValidationError, match="cannot be current"):
        later.register(OrderPlaced, version=2)
