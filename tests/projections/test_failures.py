"""Failing handlers: retries with backoff, dead letters, halting, operator actions."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence

import pytest

from eventbook._backends.memory import MemoryEventStore
from eventbook._store.ids import uuid7
from eventbook._store.types import NewEvent, RecordedEvent
from eventbook.projections import (
    HandlerFailed,
    HandlerMap,
    HandlerRetry,
    OnFailure,
    ParkedEventNotFound,
    ParkedStatus,
    Projection,
    ProjectionDaemon,
    ProjectionDatabase,
    ProjectionHalted,
    ProjectionState,
    RunnerSettings,
    SqlBatch,
    SqlSink,
    discard_parked,
    list_parked,
    projection_status,
    rebuild,
    retry_parked,
    wait_for,
)
from tests.projections.conftest import place_orders
from tests.projections.models import model, orders_projection

FAST = RunnerSettings(batch_size=20, poll_interval=0.1, lease_ttl=2.0)


async def until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        value = condition() if callable(condition) else condition
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def test_a_poison_event_is_parked_and_the_rest_flows(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 20)
    poisoned = {
        e.id
        async for e in memory_store.read_all()
        if e.stream == "order-7" and e.type == "ItemAdded"
    }
    projection = orders_projection(database, poison=lambda e: e.id in poisoned)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
        (parked,) = await list_parked(projection)
        assert parked.event_id in poisoned
        assert (parked.stream, parked.type, parked.attempts) == ("order-7", "ItemAdded", 3)
        assert parked.status is ParkedStatus.PARKED
        assert "ValueError: poisoned event" in parked.error
        status = await projection_status(memory_store, projection)
        assert status is not None
        assert (status.state, status.parked, status.lag_events) == (ProjectionState.LIVE, 1, 0)
        assert status.last_error is not None
        assert "poisoned" in status.last_error
    built = await model(database)
    assert built["applied"] == 20 * 2 + 10 - 1
    assert built["duplicates"] == 0
    order_7 = next(o for o in built["orders"] if o[0] == "order-7")
    assert order_7[2] == 7  # its ItemAdded (+3) is missing


async def test_a_parked_event_can_be_retried_after_a_fix_or_discarded(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 6)
    broken = {"on": True}
    poisoned = {
        e.id
        async for e in memory_store.read_all()
        if e.type == "ItemAdded" and e.stream in ("order-1", "order-2")
    }
    projection = orders_projection(database, poison=lambda e: broken["on"] and e.id in poisoned)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
        first, second = sorted(await list_parked(projection), key=lambda p: p.position)
        with pytest.raises(HandlerFailed, match="poisoned"):
            await retry_parked(memory_store, projection, first.event_id)
        assert [
            p.attempts for p in await list_parked(projection) if p.event_id == first.event_id
        ] == [4]
        broken["on"] = False  # the fix is deployed
        await retry_parked(memory_store, projection, first.event_id)
        await discard_parked(projection, second.event_id)
        assert await list_parked(projection) == []
        with pytest.raises(ParkedEventNotFound):
            await discard_parked(projection, second.event_id)
    orders = {o[0]: o for o in (await model(database))["orders"]}
    assert (orders["order-1"][2], orders["order-2"][2]) == (1 + 3, 2)


async def test_a_transient_failure_is_retried_with_backoff(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    calls: list[float] = []
    handlers: HandlerMap[SqlBatch] = HandlerMap()
    insert = "INSERT INTO {seen} VALUES (?)"

    @handlers.on("Flaky")
    def flaky(event: RecordedEvent, batch: SqlBatch) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError("the mail server is down")
        batch.execute(insert, (str(event.id),))

    sink = SqlSink(database, tables=["seen"], schema=["CREATE TABLE {seen} (id TEXT PRIMARY KEY)"])
    retry = HandlerRetry(max_attempts=5, backoff=0.1)
    projection = Projection("flaky", sink, handlers, retry=retry)
    await memory_store.append("thing-1", [NewEvent("Flaky", {})])
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 5)
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.09
    assert calls[2] - calls[1] >= 0.19
    assert await list_parked(projection) == []
    row = await database.checkpoint("flaky", 1)
    assert row is not None
    assert row.last_error is not None
    assert "mail server" in row.last_error


async def test_a_bad_write_is_found_in_its_batch_and_parked(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """Writes run at commit, so a failing statement is not tied to an event: isolate it."""
    handlers: HandlerMap[SqlBatch] = HandlerMap()
    insert = "INSERT INTO {codes} VALUES (?, ?)"
    handlers["Coded"] = lambda e, b: b.execute(insert, (e.data["code"], e.stream))
    sink = SqlSink(
        database,
        tables=["codes"],
        schema=["CREATE TABLE {codes} (code TEXT PRIMARY KEY, owner TEXT)"],
    )
    projection = Projection("codes", sink, handlers, retry=HandlerRetry(max_attempts=2, backoff=0))
    for n in range(30):
        code = "dup" if n in (5, 17) else f"code-{n}"
        await memory_store.append(f"thing-{n}", [NewEvent("Coded", {"code": code})])
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, await memory_store.head() or _never(), 10)
        (parked,) = await list_parked(projection)
    assert parked.stream == "thing-17"
    rows = await database.fetch("SELECT owner FROM codes")
    assert len(rows) == 29
    assert "thing-5" in {r[0] for r in rows}


async def test_a_projection_that_stops_on_failure_halts_until_an_operator_acts(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 10)
    broken = {"on": True}
    poisoned = {
        e.id
        async for e in memory_store.read_all()
        if e.stream == "order-4" and e.type == "OrderPlaced"
    }
    retry = HandlerRetry(max_attempts=2, backoff=0.01, on_failure=OnFailure.STOP)
    projection = orders_projection(
        database, retry=retry, poison=lambda e: broken["on"] and e.id in poisoned
    )
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await until(lambda: list_parked(projection))
        (halted,) = await list_parked(projection)
        assert halted.status is ParkedStatus.HALTED
        await asyncio.sleep(0.3)
        status = await projection_status(memory_store, projection)
        assert status is not None
        assert (status.state, status.stuck, status.parked) == (ProjectionState.FAILED, True, 1)
        assert status.lag_events == 6 * 2 + 3  # stopped right before order-4's first event
        assert (await model(database))["applied"] == 4 * 2 + 2
        broken["on"] = False
        await retry_parked(memory_store, projection, halted.event_id)  # the runner retries it
        await wait_for(projection, await memory_store.head() or _never(), 5)
    built = await model(database)
    assert (built["applied"], built["duplicates"]) == (10 * 2 + 5, 0)


async def test_discarding_a_halted_event_steps_over_it(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 5)
    poisoned = {
        e.id
        async for e in memory_store.read_all()
        if e.stream == "order-2" and e.type == "ItemAdded"
    }
    retry = HandlerRetry(max_attempts=1, on_failure=OnFailure.STOP)
    projection = orders_projection(database, retry=retry, poison=lambda e: e.id in poisoned)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await until(lambda: list_parked(projection))
        (halted,) = await list_parked(projection)
        await discard_parked(projection, halted.event_id)
        await wait_for(projection, await memory_store.head() or _never(), 5)
        assert await list_parked(projection) == []
    built = await model(database)
    assert (built["applied"], built["duplicates"]) == (5 * 2 + 3 - 1, 0)


async def test_unknown_parked_events_are_reported(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        with pytest.raises(ParkedEventNotFound, match="'orders@v1' has no parked event"):
            await retry_parked(memory_store, projection, uuid7())


def _never() -> object:
    raise AssertionError("the store is empty")


async def test_a_failing_batch_observer_changes_nothing(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    """`on_batch` runs after the batch committed: its error is logged, the batch is not
    applied again and the checkpoint does not move back."""
    await place_orders(memory_store, 6)
    seen = {"batches": 0}

    def observer(*_: object) -> None:
        seen["batches"] += 1
        if seen["batches"] == 1:
            raise RuntimeError("metrics hiccup")

    projection = orders_projection(database)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST, on_batch=observer):
        await wait_for(projection, await memory_store.head() or _never(), 5)
        await place_orders(memory_store, 2, start=6)  # the runner goes on from where it was
        await wait_for(projection, await memory_store.head() or _never(), 5)
    built = await model(database)
    assert (built["applied"], built["duplicates"]) == (8 * 2 + 4, 0)
    assert await list_parked(projection) == []
    assert seen["batches"] >= 2


async def test_a_failing_batch_upcast_parks_the_event_it_fails_on(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 4)
    events = [e async for e in memory_store.read_all()]
    bad = events[5]

    async def upcast(batch: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        if any(e.id == bad.id for e in batch):
            raise ValueError(f"cannot upcast {bad.id}")
        return list(batch)

    retry = HandlerRetry(max_attempts=1, backoff=0.01)
    projection = dataclasses.replace(orders_projection(database, retry=retry), upcast_batch=upcast)
    async with ProjectionDaemon(memory_store, [projection], settings=FAST):
        await wait_for(projection, events[-1].position, 5)
    (parked,) = await list_parked(projection)
    assert parked.event_id == bad.id
    assert (await model(database))["applied"] == len(events) - 1


async def test_a_catch_up_of_a_halted_build_raises_instead_of_waiting(
    memory_store: MemoryEventStore, database: ProjectionDatabase
) -> None:
    await place_orders(memory_store, 3)
    poisoned = {e.id async for e in memory_store.read_all() if e.stream == "order-1"}
    retry = HandlerRetry(max_attempts=1, backoff=0.01, on_failure=OnFailure.STOP)
    projection = orders_projection(database, retry=retry, poison=lambda e: e.id in poisoned)
    with pytest.raises(ProjectionHalted):
        await asyncio.wait_for(rebuild(memory_store, projection, timeout=30), 10)
