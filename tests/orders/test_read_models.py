"""The Orders read models, built in-process by `catch_up` into a real projection database.

A small history goes through the real command path (plus one version 1 `OrderPlaced`, as
the seeder imports old orders), every projection catches up, and `Queries` answers are
checked against figures worked out by hand. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from apps.orders.api_keys import ApiKeys, Role
from apps.orders.domain import commands as c
from apps.orders.domain.events import order_events
from apps.orders.domain.order import Order
from apps.orders.handlers import register_handlers, stream_of
from apps.orders.projections import order_projections
from apps.orders.queries import Queries
from apps.orders.read_models.order_detail import order_detail_builds, order_detail_view
from apps.orders.read_models.order_list import order_list

import eventbook
from eventbook import NO_STREAM, STREAM_DELETED, CommandBus, EventStore, NewEvent, Repository
from eventbook.projections import (
    PostgresDatabase,
    Projection,
    ProjectionDatabase,
    SearchSink,
    SQLiteDatabase,
    catch_up,
    setup_projection,
)
from tests.conftest import PostgresForTests

DAY1, DAY2, DAY3 = "2026-03-02", "2026-03-03", "2026-03-04"
LONDON = c.NewAddress("Ada Lovelace", "12 Saint James Square", "London", "SW1Y 4JH", "GB")
BERLIN = c.NewAddress("Grace Hopper", "1 Linden Allee", "Berlin", "10115", "DE")
PARIS = c.NewAddress("Alan Turing", "3 Rue de la Paix", "Paris", "75001", "FR")
ZURICH = c.NewAddress("Alan Turing", "8 Bahnhofstrasse", "Zurich", "8001", "CH")


def at(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


class SetClock:
    """The handlers' clock, moved by the test to the time of the next command."""

    def __init__(self) -> None:
        self.now = at(DAY1, 0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ReadSide:
    store: EventStore
    bus: CommandBus
    clock: SetClock
    projections: list[Projection[Any]]
    queries: Queries

    async def when(self, moment: datetime, *commands: Any) -> None:
        self.clock.now = moment
        for command in commands:
            await self.bus.dispatch(command)

    async def catch_up(self) -> None:
        for projection in self.projections:
            await catch_up(self.store, projection, timeout=60)


@pytest_asyncio.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[ProjectionDatabase]:
    opened = await SQLiteDatabase.open(tmp_path / "read-models.db")
    yield opened
    await opened.close()


@pytest_asyncio.fixture
async def postgresql_database(
    postgres: PostgresForTests, postgres_schema: str
) -> AsyncIterator[ProjectionDatabase]:
    opened = await PostgresDatabase.open(postgres.url, schema=postgres_schema)
    yield opened
    await opened.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> ProjectionDatabase:
    """Each projection database in turn: a real SQLite file, a real PostgreSQL schema."""
    opened: ProjectionDatabase = request.getfixturevalue(f"{request.param}_database")
    return opened


@pytest_asyncio.fixture
async def read_side(database: ProjectionDatabase) -> AsyncIterator[ReadSide]:
    store = await eventbook.connect("memory://")
    events = order_events()
    bus, clock = CommandBus(store), SetClock()
    register_handlers(bus, Repository(store, Order, events), clock=clock)
    projections = order_projections(database, events)
    search = {p.name: p for p in projections}["order_search"].sink
    assert isinstance(search, SearchSink)
    detail = order_detail_view(order_detail_builds(database, events.upcast))
    side = ReadSide(store, bus, clock, projections, Queries(database, search, detail))
    await history(side)
    await side.catch_up()
    yield side
    await store.close()


async def history(side: ReadSide) -> None:
    """Four orders over three days: o1 shipped, o2 (in pounds) paid then cancelled,
    o3 open and moved to Zurich, o4 imported as version 1; and one API key."""
    await import_v1_order(side.store, "o4", at(DAY1, 8))
    kettle, mug = (
        c.NewLineItem("Kettle", 2, Decimal("25.00")),
        c.NewLineItem("Mug", 1, Decimal("4.50")),
    )
    await side.when(
        at(DAY1, 10),
        c.PlaceOrder("o1", "Ada Lovelace", [kettle, mug], LONDON),
        c.AddItem("o1", "Tea", 3, Decimal(2)),
        c.RemoveItem("o1", "Mug"),
    )
    await side.when(at(DAY2, 9), c.ProcessPayment("o1", Decimal(56)))
    await side.when(
        at(DAY2, 11),
        c.PlaceOrder("o2", "Grace Hopper", [c.NewLineItem("Scale", 1, Decimal(45))], BERLIN, "GBP"),
        c.ProcessPayment("o2", Decimal(45)),
    )
    await side.when(at(DAY3, 9), c.ShipOrder("o1", "DHL"), c.CancelOrder("o2", "out of stock"))
    espresso = c.NewLineItem("Espresso machine", 1, Decimal(249))
    await side.when(
        at(DAY3, 12),
        c.PlaceOrder("o3", "Alan Turing", [espresso], PARIS),
        c.UpdateShippingAddress("o3", ZURICH),
    )
    await ApiKeys(side.store).register("reader-key-for-the-read-model-test", Role.READER, "test")


async def import_v1_order(store: EventStore, order_id: str, moment: datetime) -> None:
    """An order from before currencies, stored as the seeder imports one."""
    address = {"name": "Edsger Dijkstra", "street": "5 Canal Side", "city": "Amsterdam"}
    data = {
        "order_id": order_id,
        "customer": "Edsger Dijkstra",
        "items": [{"product": "Tamper", "quantity": 1, "unit_price": "29.90"}],
        "shipping_address": {**address, "postcode": "1011 AB", "country": "NL"},
        "at": msgspec.to_builtins(moment),
    }
    event = NewEvent("OrderPlaced", data, {"schema_version": 1})
    await store.append(stream_of(order_id), [event], expected=NO_STREAM)


def ids(page: dict[str, Any]) -> list[str]:
    return [order["order_id"] for order in page["items"]]


async def test_the_list_sorts_filters_and_pages(read_side: ReadSide) -> None:
    q = read_side.queries
    newest = await q.orders()
    assert (ids(newest), newest["total"]) == (["o3", "o2", "o1", "o4"], 4)
    assert [o["status"] for o in newest["items"]] == ["placed", "cancelled", "shipped", "placed"]
    assert ids(await q.orders(sort="placed_at")) == ["o4", "o1", "o2", "o3"]
    assert ids(await q.orders(sort="-total")) == ["o3", "o1", "o2", "o4"]
    assert ids(await q.orders(sort="-updated_at")) == ["o3", "o2", "o1", "o4"]
    assert ids(await q.orders(status="placed")) == ["o3", "o4"]
    assert ids(await q.orders(customer="Grace Hopper")) == ["o2"]
    second = await q.orders(sort="total", page=2, page_size=3)
    assert (ids(second), second["total"], second["page"]) == (["o3"], 4, 2)


async def test_an_order_page_shows_its_lines_and_money(read_side: ReadSide) -> None:
    o1 = await read_side.queries.order("o1")
    assert o1 is not None
    assert {k: o1[k] for k in ("status", "currency", "total", "paid", "item_count")} == {
        "status": "shipped",
        "currency": "EUR",
        "total": "56.00",
        "paid": "56.00",
        "item_count": 2,
    }
    assert (o1["carrier"], o1["version"], o1["placed_at"][:10]) == ("DHL", 5, DAY1)
    assert o1["items"] == [
        {"product": "Kettle", "quantity": 2, "unit_price": "25.00", "amount": "50.00"},
        {"product": "Tea", "quantity": 3, "unit_price": "2.00", "amount": "6.00"},
    ]
    o2 = await read_side.queries.order("o2")
    assert o2 is not None
    assert (o2["currency"], o2["total"], o2["paid"], o2["status"]) == (
        "GBP",
        "45.00",
        "0.00",
        "cancelled",
    )
    o3 = await read_side.queries.order("o3")
    assert o3 is not None
    assert o3["shipping_address"]["city"] == "Zurich"
    o4 = await read_side.queries.order("o4")  # version 1: upcast to euros
    assert o4 is not None
    assert (o4["currency"], o4["total"]) == ("EUR", "29.90")
    assert await read_side.queries.order("o5") is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("lovelace", ["o1"]),
        ("Tea", ["o1"]),
        ("mug", []),  # removed from o1
        ("zurich", ["o3"]),
        ("paris", []),  # o3 moved away
        ("tamper", ["o4"]),
        ("alan espresso", ["o3"]),
        ("alan kettle", []),
    ],
)
async def test_search_finds_the_current_fields(
    read_side: ReadSide, text: str, found: list[str]
) -> None:
    page = await read_side.queries.orders(text=text)
    assert ids(page) == found
    assert all(order["score"] > 0 for order in page["items"])


async def test_search_combines_with_the_filters(read_side: ReadSide) -> None:
    assert ids(await read_side.queries.orders(text="london", status="shipped")) == ["o1"]
    assert ids(await read_side.queries.orders(text="london", status="placed")) == []


async def test_analytics_count_revenue_in_euros_on_the_day_it_is_paid(
    read_side: ReadSide,
) -> None:
    q = read_side.queries
    # o1 56.00 EUR and o2 45.00 GBP (52.65 EUR) paid on day 2; o2 refunded on day 3.
    assert await q.analytics_summary() == {
        "currency": "EUR",
        "orders": 4,
        "paid": 2,
        "revenue": "56.00",
        "average_order": "28.00",
        "shipped": 1,
        "cancelled": 1,
        "refunds": "52.65",
    }
    assert await q.daily(2) == [
        {"day": DAY2, "orders": 1, "paid": 2, "revenue": "108.65", "shipped": 0, "cancelled": 0},
        {"day": DAY3, "orders": 1, "paid": 0, "revenue": "-52.65", "shipped": 1, "cancelled": 1},
    ]
    assert [d["day"] for d in await q.daily(30)] == [DAY1, DAY2, DAY3]
    # Lines count as sold when paid (the removed mug never was); the refund takes o2's back.
    assert await q.products(10) == [
        {"product": "Kettle", "quantity": 2, "revenue": "50.00", "orders": 1},
        {"product": "Tea", "quantity": 3, "revenue": "6.00", "orders": 1},
    ]


async def test_store_stats_count_every_stream_and_type(read_side: ReadSide) -> None:
    q = read_side.queries
    summary = await q.store_summary()
    assert (summary["streams"], summary["events"]) == (5, 13)
    assert {t["type"]: t["count"] for t in summary["by_type"]} == {
        "OrderPlaced": 4,
        "ItemAdded": 1,
        "ItemRemoved": 1,
        "PaymentProcessed": 2,
        "OrderShipped": 1,
        "OrderCancelled": 1,
        "RefundIssued": 1,
        "ShippingAddressUpdated": 1,
        "ApiKeyIssued": 1,
    }
    biggest = await q.streams(page=1, page_size=2)
    assert biggest["total"] == 5
    assert [(s["stream"], s["events"]) for s in biggest["items"]] == [
        ("order-o1", 5),
        ("order-o2", 4),
    ]
    assert biggest["items"][0]["last_type"] == "OrderShipped"
    written = [(e.stream, e.version, e.type) async for e in read_side.store.read_all()]
    recent = [(e["stream"], e["version"], e["type"]) for e in await q.recent_events(20)]
    assert recent == written[::-1]


async def test_catching_up_again_applies_only_what_is_new(read_side: ReadSide) -> None:
    await read_side.when(
        at(DAY3, 15),
        c.AddItem("o3", "Milk jug", 2, Decimal(18)),
        c.RemoveItem("o3", "Espresso machine"),
        c.ProcessPayment("o3", Decimal(36)),
    )
    await read_side.catch_up()
    q = read_side.queries
    o3 = await q.order("o3")
    assert o3 is not None
    assert (o3["status"], o3["total"], o3["paid"], o3["item_count"]) == (
        "paid",
        "36.00",
        "36.00",
        1,
    )
    assert ids(await q.orders(text="milk jug")) == ["o3"]
    assert ids(await q.orders(text="espresso")) == []
    assert ids(await q.orders(text="alan zurich")) == ["o3"]
    summary = await q.analytics_summary()
    assert (summary["orders"], summary["paid"], summary["revenue"]) == (4, 3, "92.00")
    assert (await q.store_summary())["events"] == 16


async def test_a_deleted_order_leaves_the_list_and_the_search_index(read_side: ReadSide) -> None:
    search = {p.name: p for p in read_side.projections}["order_search"].sink
    assert isinstance(search, SearchSink)
    assert [hit.doc_id for hit in await search.search("espresso")] == ["o3"]
    await read_side.store.delete_stream(stream_of("o3"))
    await read_side.catch_up()
    assert "o3" not in ids(await read_side.queries.orders(page_size=50))
    assert await search.search("espresso") == []
    assert await read_side.queries.order("o3") is None
    assert sorted(ids(await read_side.queries.orders(page_size=50))) == ["o1", "o2", "o4"]


async def test_a_partitioned_order_list_keeps_each_order_s_deletion_in_its_partition(
    read_side: ReadSide, database: ProjectionDatabase
) -> None:
    # A build of the order list in 4 partitions beside the one the fixture ran.
    split = order_list(database, order_events().upcast, version=2, partitions=4)
    await setup_projection(split)
    await catch_up(read_side.store, split, timeout=60)
    await read_side.store.delete_stream(stream_of("o3"))
    history = [e async for e in read_side.store.read_all()]
    deletion = next(e for e in history if e.type == STREAM_DELETED)
    placed = next(e for e in history if e.stream == stream_of("o3"))
    assert deletion.stream != placed.stream  # recorded in the order's metadata stream
    assert split.partition_of(deletion) == split.partition_of(placed)
    # The orders are spread over more than one partition.
    orders = [e for e in history if e.type == "OrderPlaced"]
    assert len({split.partition_of(e) for e in orders}) > 1
    await catch_up(read_side.store, split, timeout=60)
    rows = await database.fetch("SELECT order_id FROM orders_v2 ORDER BY order_id", ())
    assert [row[0] for row in rows] == ["o1", "o2", "o4"]
