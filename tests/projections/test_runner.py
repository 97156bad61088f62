"""The runner and daemon over the memory event store, on real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import msgspec
import pytest

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent
from eventbook._write.messages import EventRegistry
from eventbook.projections import (
    HandlerMap,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionState,
    ProjectionTimeout,
    RunnerSettings,
    RunnerState,
    SqlBatch,
    SqlSink,
    projection_status,
    wait_for,
)
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection

FAST = RunnerSettings(batch_size=50, poll_interval=0.2, lease_ttl=2.0)


async def test_catches_up_then_follows_live(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 120)
    projection = orders_projection(database)
    batches: list[int] = []
    async with ProjectionDaemon(
        memory_store, [projection], settings=FAST, on_batch=lambda p, e, t: batches.append(len(e))
    ) as daemon:
        head = await memory_store.head()
        assert head is not None
        await wait_for(projection, head, 10)
        assert max(batches) == 50  # catch-up went in full batches
        live = await memory_store.append(
            "order-new", [NewEvent("OrderPlaced", {"customer": "z", "total": 5})]
        )
        await wait_for(projection, live, 5)
        assert daemon.states() == {"orders@v1": RunnerState.LIVE}
    built = await model(database)
    assert built["applied"] == 120 * 2 + 60 + 1
    assert built["duplicates"] == 0
    assert built["totals"] == (301, sum(range(120)) + 120 * 3 + 5)
    assert built["orders"][0][:4] == ("order-0", "c0", 3, "shipped")


async def test_the_checkpoint_is_a_position_string_committed_with_the_writes(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 10)
    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
    rows = await database.fetch(
        "SELECT position FROM eventbook_projection_checkpoints WHERE name = 'orders'"
    )
    assert rows[0][0] == str(await memory_store.head())


async def test_events_it_does_not_handle_still_move_the_checkpoint(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """wait_for must not hang on an event the projection filters out."""
    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await place_orders(memory_store, 3)
        other = await memory_store.append("invoice-1", [NewEvent("InvoiceSent", {})])
        await wait_for(projection, other, 5)
    row = await database.checkpoint("orders", 1)
    assert row is not None
    assert row.position == other.position


async def test_upcasting_runs_before_handlers(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    def upcast(event: RecordedEvent) -> RecordedEvent:
        if event.type != "OrderPlacedV1":
            return event
        data = {"customer": event.data["who"], "total": event.data["cents"] // 100}
        return msgspec.structs.replace(event, type="OrderPlaced", data=data)

    await memory_store.append(
        "order-old", [NewEvent("OrderPlacedV1", {"who": "ada", "cents": 700})]
    )
    await memory_store.append(
        "order-new", [NewEvent("OrderPlaced", {"customer": "bob", "total": 2})]
    )
    projection = orders_projection(database, upcast=upcast)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
    orders = (await model(database))["orders"]
    assert [(o[0], o[1], o[2]) for o in orders] == [
        ("order-new", "bob", 2),
        ("order-old", "ada", 7),
    ]


async def test_the_write_side_registry_upcasts_whole_batches(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """`EventRegistry.upcast` (async, per batch) plugs in as `upcast_batch`."""

    class OrderPlaced(msgspec.Struct):
        customer: str
        total: int

    registry = EventRegistry()
    registry.register(OrderPlaced, version=2)
    registry.add_upcaster(
        "OrderPlaced", 1, lambda data: {"customer": data["who"], "total": data["cents"] // 100}
    )
    old = NewEvent("OrderPlaced", {"who": "ada", "cents": 900})  # stored at schema version 1
    await memory_store.append("order-old", [old])
    await memory_store.append(
        "order-new", await registry.serialise("order-new", [OrderPlaced("bob", 4)])
    )
    projection = dataclasses.replace(orders_projection(database), upcast_batch=registry.upcast)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
    orders = (await model(database))["orders"]
    assert [o[:3] for o in orders] == [("order-new", "bob", 4), ("order-old", "ada", 9)]


async def test_handlers_read_their_own_earlier_writes_in_the_batch(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("Scored")
    async def scored(event: RecordedEvent, batch: SqlBatch) -> None:
        best = await batch.fetchval("SELECT best FROM {scores} WHERE player = ?", (event.stream,))
        if best is None:
            batch.execute(
                "INSERT INTO {scores} VALUES (?, ?)",
                (event.stream, event.data["n"]),
            )
        elif event.data["n"] > best:
            batch.execute(
                "UPDATE {scores} SET best = ? WHERE player = ?",
                (event.data["n"], event.stream),
            )

    sink = SqlSink(
        database,
        tables=["scores"],
        schema=["CREATE TABLE {scores} (player TEXT PRIMARY KEY, best INTEGER)"],
    )
    projection = Projection("scores", sink, handlers)
    for n in [3, 9, 4, 12, 1]:
        await memory_store.append("player-a", [NewEvent("Scored", {"n": n})])
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
    assert [tuple(r) for r in await database.fetch("SELECT * FROM scores")] == [("player-a", 12)]


async def test_wait_for_times_out_saying_how_far_behind(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    daemon = ProjectionDaemon(memory_store, [projection], settings=FAST)
    await daemon.setup()  # set up, but never run: the projection stays at the start
    await place_orders(memory_store, 5)
    head = await memory_store.head()
    assert head is not None
    with pytest.raises(ProjectionTimeout, match=r"at the start, 13 event\(s\) behind") as caught:
        await wait_for(projection, head, 0.2, store=memory_store)
    assert caught.value.wanted == str(head)
    beyond = Position(head.major, head.minor + 100)  # no append has returned it
    with pytest.raises(ProjectionTimeout, match=r"newest visible event is at \d+: no append"):
        await wait_for(projection, beyond, 0.1, store=memory_store)


async def test_status_reports_position_lag_and_state(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    daemon = ProjectionDaemon(memory_store, [projection], settings=FAST)
    await daemon.setup()
    await place_orders(memory_store, 4)
    stopped = await projection_status(memory_store, projection)
    assert stopped is not None
    assert (stopped.state, stopped.lag_events, stopped.position) == (
        ProjectionState.STOPPED,
        10,
        None,
    )
    assert stopped.lag_seconds >= 0
    async with daemon:
        await wait_for(projection, await memory_store.head() or _never(), 5)
        live = await projection_status(memory_store, projection)
        assert live is not None
        assert (live.state, live.lag_events, live.lag_seconds, live.parked) == (
            ProjectionState.LIVE,
            0,
            0.0,
            0,
        )
        assert live.owner == daemon.owner
        assert live.active
    after = await projection_status(memory_store, projection)
    assert after is not None
    assert after.state is ProjectionState.STOPPED  # the lease was released on stop


async def test_one_daemon_runs_several_projections(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    first = orders_projection(database)
    handlers: HandlerMap[SqlBatch] = HandlerMap()
    upsert = (
        "INSERT INTO {per_customer} VALUES (?, 1) ON CONFLICT (customer)"
        " DO UPDATE SET orders = {per_customer}.orders + 1"
    )
    handlers["OrderPlaced"] = lambda e, b: b.execute(upsert, (e.data["customer"],))
    schema = ["CREATE TABLE {per_customer} (customer TEXT PRIMARY KEY, orders INTEGER)"]
    sink = SqlSink(database, tables=["per_customer"], schema=schema)
    second = Projection("customers", sink, handlers, batch_size=7)
    await place_orders(memory_store, 30)
    async with ProjectionDaemon(memory_store, [first, second], settings=FAST):
        head = await memory_store.head()
        assert head is not None
        await asyncio.gather(wait_for(first, head, 5), wait_for(second, head, 5))
    rows = await database.fetch(
        "SELECT name, position FROM eventbook_projection_checkpoints ORDER BY name"
    )
    assert [(r[0], r[1]) for r in rows] == [("customers", str(head)), ("orders", str(head))]
    counts = await database.fetch("SELECT sum(orders) FROM per_customer")
    assert counts[0][0] == 30


async def test_batches_wait_to_fill_when_asked(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    sizes: list[int] = []
    settings = RunnerSettings(batch_size=100, max_wait=0.3, poll_interval=0.2, lease_ttl=2)
    async with ProjectionDaemon(
        memory_store, [projection], settings=settings, on_batch=lambda p, e, t: sizes.append(len(e))
    ):
        await asyncio.sleep(0.2)
        for n in range(10):  # ten appends of two events, 10 ms apart: one batch of 20
            pair = [
                NewEvent("OrderPlaced", {"customer": "c", "total": 1}),
                NewEvent("ItemAdded", {"amount": 1}),
            ]
            await memory_store.append(f"order-{n}", pair)
            await asyncio.sleep(0.01)
        await wait_for(projection, await memory_store.head() or _never(), 5)
    assert sizes == [20]


def _never() -> Any:
    raise AssertionError("the store is empty")
