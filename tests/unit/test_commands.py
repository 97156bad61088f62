"""The command bus: validation, routing, retries, de-duplication and metadata."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import uuid4

import msgspec
import pytest
import pytest_asyncio

import eventbook
from eventbook import (
    Aggregate,
    CommandBus,
    CommandContext,
    CommandIdReused,
    CommandMetadata,
    CommandResult,
    CommandValidationError,
    ConcurrencyError,
    EventRegistry,
    EventStore,
    Repository,
    RetryPolicy,
    UnknownCommandError,
    ValidationError,
    aggregate_handler,
)
from eventbook._write.validation import to_command
from tests.conftest import PostgresForTests, drop_schema, new_schema_name
from tests.unit.write_domain import (
    CancelOrder,
    Order,
    OrderAlreadyShipped,
    OrderNotPlaced,
    OrderPlaced,
    PlaceOrder,
    ShipOrder,
    order_decider,
    order_events,
    store,
    stored_events,
    stream_of,
)

__all__ = ["store"]  # the fixture


def order_bus(store: EventStore, style: str = "class", **options: Any) -> CommandBus:
    """The composition root of the tests: one bus, one repository, three handlers."""
    bus = CommandBus(store, rng=random.Random(7), **options)
    if style == "class":
        orders = Repository(store, Order, order_events())
        bus.register(
            PlaceOrder,
            aggregate_handler(
                orders, stream=stream_of, act=lambda o, c: o.place(c.customer, c.total, c.currency)
            ),
        )
        bus.register(
            ShipOrder,
            aggregate_handler(orders, stream=stream_of, act=lambda o, c: o.ship(c.carrier)),
        )
        bus.register(
            CancelOrder,
            aggregate_handler(orders, stream=stream_of, act=lambda o, c: o.cancel(c.reason)),
        )
    else:
        decided = Repository(store, order_decider, order_events())
        for command in (PlaceOrder, ShipOrder, CancelOrder):
            bus.register(command, aggregate_handler(decided, stream=stream_of))
    return bus


STYLES = pytest.mark.parametrize("style", ["class", "decider"])


@STYLES
async def test_a_command_runs_and_reports_what_it_stored(store: EventStore, style: str) -> None:
    bus = order_bus(store, style)
    result = await bus.dispatch(PlaceOrder("1", "ann", 10), CommandMetadata(command_id="c-1"))
    (event,) = await stored_events(store, "order-1")
    assert result == CommandResult("c-1", "order-1", 1, event.position, (event.id,))
    assert result.changed
    assert not result.duplicate
    context = CommandContext.for_command(
        PlaceOrder("1", "ann", 10), CommandMetadata(command_id="c-1")
    )
    assert event.id == context.event_id(0)  # derived from the command id, in any process
    assert (await bus.dispatch(ShipOrder("1", "DHL"))).version == 2
    with pytest.raises(OrderAlreadyShipped):
        await bus.dispatch(ShipOrder("1", "UPS"))
    assert len(await stored_events(store)) == 2


async def test_bad_commands_list_every_bad_field_and_change_nothing(store: EventStore) -> None:
    bus = order_bus(store)
    with pytest.raises(CommandValidationError) as caught:
        await bus.dispatch(PlaceOrder("1", "", 0))
    assert caught.value.command_type == "PlaceOrder"
    assert set(caught.value.problems) == {"customer", "total"}
    assert "length >= 1" in caught.value.problems["customer"]
    assert caught.value.problems["total"] == "Expected `int` >= 1, got 0"
    assert str(caught.value).startswith("PlaceOrder is invalid: customer: ")

    with pytest.raises(CommandValidationError) as caught:
        await bus.dispatch_payload("PlaceOrder", {"order_id": 1, "total": "ten"})
    assert caught.value.problems == {
        "order_id": "Expected `str`, got `int`",
        "customer": "required field missing",
        "total": "Expected `int`, got `str`",
    }
    with pytest.raises(CommandValidationError, match=r"reason: Expected `str`, got `array`"):
        await bus.dispatch_payload("CancelOrder", {"order_id": "1", "reason": [1]})
    with pytest.raises(CommandValidationError, match="expected a JSON object"):
        await bus.dispatch_payload("CancelOrder", ["1"])  # type: ignore[arg-type]
    assert await stored_events(store) == []

    result = await bus.dispatch_payload(
        "PlaceOrder", {"order_id": "2", "customer": "bob", "total": 5}
    )
    assert result.version == 1


async def test_unknown_commands_are_refused(store: EventStore) -> None:
    bus = order_bus(store)
    with pytest.raises(UnknownCommandError, match="no handler is registered for str"):
        await bus.dispatch("PlaceOrder")
    with pytest.raises(
        UnknownCommandError, match="known commands: CancelOrder, PlaceOrder, ShipOrder"
    ):
        await bus.dispatch_payload("Nope", {})
    assert set(bus.command_types) == {"CancelOrder", "PlaceOrder", "ShipOrder"}
    with pytest.raises(ValidationError, match="registered already"):
        bus.register(
            PlaceOrder,
            aggregate_handler(Repository(store, order_decider, order_events()), stream=stream_of),
        )
    with pytest.raises(TypeError, match="class aggregate: pass act="):
        aggregate_handler(Repository(store, Order, order_events()), stream=stream_of)


# -- retries -----------------------------------------------------------------------------


class Tally(msgspec.Struct, frozen=True):
    count: int


class Bump(msgspec.Struct, frozen=True):
    counter: str


class Counter(Aggregate[Tally]):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def bump(self) -> None:
        self.record(Tally(self.count + 1))

    def apply(self, event: Tally) -> None:
        self.count = event.count


def counter_bus(store: EventStore, **options: Any) -> CommandBus:
    counters = Repository(store, Counter, EventRegistry([Tally]))
    bus = CommandBus(store, rng=random.Random(3), **options)
    bus.register(
        Bump,
        aggregate_handler(
            counters, stream=lambda c: f"counter-{c.counter}", act=lambda a, c: a.bump()
        ),
    )
    return bus


async def test_conflicting_commands_are_retried_on_fresh_state(store: EventStore) -> None:
    # Commands of one bus take turns; two buses (two processes, say) still conflict.
    retry = RetryPolicy(attempts=100, first_delay=0.0005, max_delay=0.005)
    buses = [counter_bus(store, retry=retry), counter_bus(store, retry=retry)]
    results = await asyncio.gather(*(buses[n % 2].dispatch(Bump("a")) for n in range(20)))
    assert sorted(r.version for r in results if r.version) == list(range(1, 21))
    recorded = await stored_events(store, "counter-a")
    assert [e.data["count"] for e in recorded] == list(range(1, 21))  # each decided on fresh state


@pytest_asyncio.fixture(params=["memory", "sqlite", "postgresql"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param != "postgresql":
        async with await eventbook.connect(
            "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/events.db"
        ) as opened:
            yield opened
        return
    postgres: PostgresForTests = request.getfixturevalue("postgres")
    schema = new_schema_name()
    async with await eventbook.connect(postgres.store_url(schema)) as opened:
        yield opened
    await drop_schema(postgres.url, schema)


async def test_commands_of_one_bus_on_one_stream_take_turns(any_store: EventStore) -> None:
    # 16 tasks x 15 commands on one stream, with no retry at all: none may conflict.
    bus = counter_bus(any_store, retry=RetryPolicy(attempts=1))

    async def worker() -> list[CommandResult]:
        return [await bus.dispatch(Bump("a")) for _ in range(15)]

    results = [r for batch in await asyncio.gather(*(worker() for _ in range(16))) for r in batch]
    assert sorted(r.version for r in results if r.version) == list(range(1, 241))
    recorded = await stored_events(any_store, "counter-a")
    assert [e.data["count"] for e in recorded] == list(range(1, 241))
    assert len(bus.turns) == 0  # no lock outlives its commands


async def test_commands_on_other_streams_do_not_wait_for_a_held_one(store: EventStore) -> None:
    bus = counter_bus(store)
    async with bus.turns.hold("counter-a"):
        waiting = asyncio.ensure_future(bus.dispatch(Bump("a")))
        other = await asyncio.wait_for(bus.dispatch(Bump("b")), 5)
        assert other.version == 1
        await asyncio.sleep(0.05)
        assert not waiting.done()  # it queues behind the holder
        assert len(bus.turns) == 1
    assert (await asyncio.wait_for(waiting, 5)).version == 1
    assert len(bus.turns) == 0


async def test_a_cancelled_command_leaves_no_turn_behind(store: EventStore) -> None:
    bus = counter_bus(store)
    async with bus.turns.hold("counter-a"):
        waiting = asyncio.ensure_future(bus.dispatch(Bump("a")))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert len(bus.turns) == 0


async def test_retries_are_bounded(store: EventStore) -> None:
    attempts: list[int] = []

    async def always_conflicting(command: Bump, context: CommandContext) -> None:
        attempts.append(context.attempt)
        raise ConcurrencyError("counter-a", 1, 2)

    bus = CommandBus(store, retry=RetryPolicy(attempts=4, first_delay=0.0001, max_delay=0.001))
    bus.register(Bump, always_conflicting)
    with pytest.raises(ConcurrencyError):
        await bus.dispatch(Bump("a"))
    assert attempts == [1, 2, 3, 4]


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(attempts=10, first_delay=0.01, max_delay=0.05)
    rng = random.Random(1)
    for failed, bound in [(1, 0.01), (2, 0.02), (3, 0.04), (4, 0.05), (9, 0.05)]:
        delays = [policy.delay(failed, rng) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound * 0.8  # spread over the whole range
        assert len(set(delays)) > 150
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValidationError):
        RetryPolicy(first_delay=1, max_delay=0.5)


# -- de-duplication ----------------------------------------------------------------------


@STYLES
async def test_a_retried_command_returns_the_first_result_and_appends_nothing(
    store: EventStore, style: str
) -> None:
    bus = order_bus(store, style)
    metadata = CommandMetadata(command_id="place-1")
    first = await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    again = await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    assert again == msgspec.structs.replace(first, duplicate=True)

    await bus.dispatch(ShipOrder("1", "DHL"))  # the order moves on; a late retry still matches
    late = await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    assert late == again
    assert [e.type for e in await stored_events(store)] == ["OrderPlaced", "OrderShipped"]


@STYLES
async def test_a_retry_that_would_now_decide_nothing_still_returns_the_first_result(
    store: EventStore, style: str
) -> None:
    bus = order_bus(store, style)
    await bus.dispatch(PlaceOrder("1", "ann", 10))
    metadata = CommandMetadata(command_id="cancel-1")
    first = await bus.dispatch(CancelOrder("1", "late"), metadata)
    assert first.changed
    # cancelling a cancelled order decides nothing, but this is the same command again
    assert await bus.dispatch(CancelOrder("1", "late"), metadata) == msgspec.structs.replace(
        first, duplicate=True
    )
    assert len(await stored_events(store)) == 2


class Noted(msgspec.Struct, frozen=True):
    text: str


class Note(msgspec.Struct, frozen=True):
    text: str


class Notebook(Aggregate[Noted]):
    def note(self, text: str) -> None:
        self.record(Noted(text))

    def apply(self, event: Noted) -> None:
        pass


def notebook_bus(store: EventStore) -> CommandBus:
    notebooks = Repository(store, Notebook, EventRegistry([Noted]))
    bus = CommandBus(store)
    bus.register(
        Note,
        aggregate_handler(
            notebooks, stream=lambda c: "notebook-1", act=lambda n, c: n.note(c.text)
        ),
    )
    return bus


async def test_a_retry_deciding_the_same_events_on_newer_state_is_recognised(
    store: EventStore,
) -> None:
    bus = notebook_bus(store)
    metadata = CommandMetadata(command_id="note-1")
    first = await bus.dispatch(Note("hello"), metadata)
    await bus.dispatch(Note("other"))
    again = await bus.dispatch(Note("hello"), metadata)  # the store sees the same events again
    assert again == msgspec.structs.replace(first, duplicate=True)
    assert [e.data["text"] for e in await stored_events(store)] == ["hello", "other"]


class Stamped(msgspec.Struct, frozen=True):
    token: str


class Stamp(msgspec.Struct, frozen=True):
    pass


class Stamper(Aggregate[Stamped]):
    """Each run decides different data (a fresh token), as time-stamping handlers do."""

    def stamp(self) -> None:
        self.record(Stamped(str(uuid4())))

    def apply(self, event: Stamped) -> None:
        pass


def stamper_bus(store: EventStore) -> CommandBus:
    stampers = Repository(store, Stamper, EventRegistry([Stamped]))
    bus = CommandBus(store)
    bus.register(
        Stamp, aggregate_handler(stampers, stream=lambda c: "stamper-1", act=lambda s, c: s.stamp())
    )
    return bus


RACING = {
    order_bus: PlaceOrder("1", "ann", 10),
    counter_bus: Bump("a"),
    notebook_bus: Note("x"),
    stamper_bus: Stamp(),
}


@pytest.mark.parametrize("make_bus", list(RACING))
async def test_racing_duplicates_store_once_and_agree(store: EventStore, make_bus: Any) -> None:
    bus = make_bus(store)
    metadata = CommandMetadata(command_id="racing")
    results = await asyncio.gather(*(bus.dispatch(RACING[make_bus], metadata) for _ in range(6)))
    assert len({msgspec.structs.replace(r, duplicate=False) for r in results}) == 1
    assert results[0].changed
    assert len(await stored_events(store)) == 1
    assert sum(r.duplicate for r in results) == 5  # only the run that stored says it did


async def test_a_reused_command_id_with_another_payload_is_refused(store: EventStore) -> None:
    bus = order_bus(store)
    metadata = CommandMetadata(command_id="reused")
    await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    with pytest.raises(CommandIdReused, match=r"'reused' was already used .*PlaceOrder"):
        await bus.dispatch(PlaceOrder("1", "ann", 11), metadata)
    with pytest.raises(CommandIdReused):
        await bus.dispatch(ShipOrder("1", "DHL"), metadata)
    with pytest.raises(CommandIdReused):
        await bus.dispatch(PlaceOrder("2", "ann", 10), metadata)  # another aggregate, too
    assert len(await stored_events(store)) == 1


async def test_a_command_run_again_on_a_fresh_aggregate_is_still_recognised(
    store: EventStore,
) -> None:
    """A handler that starts from `new()` (or a cached state) reaches the version the first
    run started from: the store's replay flag, not the version, tells the bus."""
    orders = Repository(store, Order, order_events())

    async def open_order(command: PlaceOrder, context: CommandContext) -> None:
        order = orders.new(stream_of(command))
        order.place(command.customer, command.total)
        await orders.save(order, context)

    bus = CommandBus(store)
    bus.register(PlaceOrder, open_order)
    metadata = CommandMetadata(command_id="opened")
    first = await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    again = await bus.dispatch(PlaceOrder("1", "ann", 10), metadata)
    assert (again.duplicate, again.position, again.event_ids) == (
        True,
        first.position,
        first.event_ids,
    )
    with pytest.raises(CommandIdReused):  # same events, other payload: the hash tells
        await bus.dispatch(PlaceOrder("1", "ann", 10, currency="USD"), metadata)
    assert len(await stored_events(store)) == 1


class Tag(msgspec.Struct, frozen=True):
    order_id: str
    tags: frozenset[str]
    weight: float


TAGS = ["gift", "fragile", "express", "heavy", "returns", "priority", "cold", "bulky"]


def tag_hash_in_a_process(seed: int) -> str:
    """The hash of one `Tag` command computed by a fresh interpreter with `seed` as its
    PYTHONHASHSEED, which decides the order in which the set's strings are iterated."""
    code = (
        "from eventbook import CommandContext\n"
        "from tests.unit.test_commands import TAGS, Tag\n"
        "print(CommandContext.for_command(Tag('1', frozenset(TAGS), 5.0)).command_hash)"
    )
    environment = {**os.environ, "PYTHONHASHSEED": str(seed)}
    finished = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    )
    return finished.stdout.strip()


def test_a_command_hashes_alike_in_every_process_and_through_both_entry_points() -> None:
    """The hash is taken of the checked command as plain data with its sets sorted: the
    same whatever a process's set order, and through `dispatch` (here an int given for a
    float field) or `dispatch_payload` (the payload converted to the command's types)."""
    here = CommandContext.for_command(Tag("1", frozenset(TAGS), 5)).command_hash
    converted = msgspec.convert({"order_id": "1", "tags": TAGS, "weight": 5}, Tag)
    assert CommandContext.for_command(converted).command_hash == here
    assert {tag_hash_in_a_process(seed) for seed in (1, 2, 3)} == {here}


async def test_racing_commands_reusing_an_id_get_one_winner_and_one_error(
    store: EventStore,
) -> None:
    bus = order_bus(store)
    metadata = CommandMetadata(command_id="shared")
    outcomes = await asyncio.gather(
        bus.dispatch(PlaceOrder("1", "ann", 10), metadata),
        bus.dispatch(PlaceOrder("1", "bob", 20), metadata),
        return_exceptions=True,
    )
    assert sum(isinstance(o, CommandResult) for o in outcomes) == 1
    assert sum(isinstance(o, CommandIdReused) for o in outcomes) == 1
    assert len(await stored_events(store)) == 1


async def test_commands_that_store_nothing_leave_no_record(store: EventStore) -> None:
    calls: list[str] = []

    async def look_only(command: Note, context: CommandContext) -> None:
        calls.append(context.command_id)

    bus = CommandBus(store)
    bus.register(Note, look_only)
    metadata = CommandMetadata(command_id="look")
    assert await bus.dispatch(Note("x"), metadata) == CommandResult("look")
    assert await bus.dispatch(Note("x"), metadata) == CommandResult("look")
    assert calls == ["look", "look"]
    assert await stored_events(store) == []


async def test_a_handler_may_change_one_aggregate_only(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())

    async def place_two(command: PlaceOrder, context: CommandContext) -> None:
        for stream in ("order-a", "order-b"):
            order = await orders.load(stream)
            order.place(command.customer, command.total)
            await orders.save(order, context)

    bus = CommandBus(store)
    bus.register(PlaceOrder, place_two)
    with pytest.raises(ValidationError, match="one command changes one aggregate"):
        await bus.dispatch(PlaceOrder("x", "ann", 1))
    assert [e.stream for e in await stored_events(store)] == ["order-a"]


async def test_handlers_are_plain_functions_with_their_own_dependencies(store: EventStore) -> None:
    orders = Repository(store, Order, order_events())
    prices = {"sku-1": 7}

    async def place_priced(
        command: PlaceOrder, context: CommandContext, *, price_list: dict[str, int]
    ) -> None:
        order = await orders.load(stream_of(command))
        order.place(command.customer, price_list["sku-1"] * command.total)
        await orders.save(order, context)

    async def look_up_price(order: Order, command: ShipOrder) -> None:
        await asyncio.sleep(0)  # an act may await a service
        order.ship(command.carrier.upper())

    bus = CommandBus(store)
    bus.register(PlaceOrder, lambda c, ctx: place_priced(c, ctx, price_list=prices))
    bus.register(ShipOrder, aggregate_handler(orders, stream=stream_of, act=look_up_price))
    await bus.dispatch(PlaceOrder("1", "ann", 3))
    await bus.dispatch(ShipOrder("1", "dhl"))
    order = await orders.load("order-1")
    assert (order.total, order.carrier) == (21, "DHL")


# -- metadata ----------------------------------------------------------------------------


async def test_metadata_flows_from_command_to_events_to_reactions(store: EventStore) -> None:
    bus = order_bus(store)
    placed = await bus.dispatch(
        PlaceOrder("1", "ann", 10),
        CommandMetadata(
            command_id="cmd-1", correlation_id="conv-9", actor="ann", extra={"tenant": "t1"}
        ),
    )
    (event,) = await stored_events(store)
    assert event.id == placed.event_ids[0]
    assert {
        k: event.metadata[k]
        for k in ("command_id", "correlation_id", "causation_id", "actor", "tenant")
    } == {
        "command_id": "cmd-1",
        "correlation_id": "conv-9",
        "causation_id": "cmd-1",
        "actor": "ann",
        "tenant": "t1",
    }

    # a reaction (say, a process manager) ships every placed order
    reaction = CommandMetadata.caused_by(event, reaction="auto-ship")
    assert (reaction.correlation_id, reaction.causation_id, reaction.actor) == (
        "conv-9",
        str(event.id),
        "ann",
    )
    shipped = await bus.dispatch(ShipOrder("1", "DHL"), reaction)
    follow_up = (await stored_events(store))[1]
    assert follow_up.metadata["command_id"] == reaction.command_id
    assert follow_up.metadata["correlation_id"] == "conv-9"
    assert follow_up.metadata["causation_id"] == str(event.id)  # links back to the placed event
    assert follow_up.metadata["actor"] == "ann"

    # the reaction sees the event again (redelivery): the same command id, nothing new
    redelivered = CommandMetadata.caused_by(event, reaction="auto-ship")
    assert redelivered.command_id == reaction.command_id
    assert (await bus.dispatch(ShipOrder("1", "DHL"), redelivered)).event_ids == shipped.event_ids
    assert CommandMetadata.caused_by(event, reaction="notify").command_id != reaction.command_id
    assert len(await stored_events(store)) == 2


async def test_events_of_unrelated_commands_start_their_own_conversation(store: EventStore) -> None:
    bus = order_bus(store)
    await bus.dispatch(PlaceOrder("1", "ann", 10))
    (event,) = await stored_events(store)
    assert event.metadata["correlation_id"] == event.metadata["command_id"]
    assert "actor" not in event.metadata
    reaction = CommandMetadata.caused_by(event, reaction="r", actor="system")
    assert (reaction.correlation_id, reaction.actor) == (event.metadata["command_id"], "system")


def test_command_metadata_is_checked() -> None:
    with pytest.raises(ValidationError, match="command_id must not be empty"):
        CommandMetadata(command_id="")
    with pytest.raises(ValidationError, match="reserved key 'actor'"):
        CommandMetadata(extra={"actor": "x"})
    with pytest.raises(ValidationError, match="reserved key 'schema_version'"):
        CommandMetadata(extra={"schema_version": 3})
    from uuid import UUID

    given = UUID("12345678-1234-5678-1234-567812345678")
    assert CommandMetadata(command_id=given).command_id == str(given)  # type: ignore[arg-type]
    assert CommandMetadata().command_id != CommandMetadata().command_id


async def test_domain_errors_reach_the_caller_and_store_nothing(store: EventStore) -> None:
    bus = order_bus(store, "decider")
    with pytest.raises(OrderNotPlaced):
        await bus.dispatch(ShipOrder("9", "DHL"), CommandMetadata(command_id="ship-9"))
    assert await stored_events(store) == []
    # the id did not get used up: once the order exists the same command works
    await bus.dispatch(PlaceOrder("9", "ann", 1))
    assert (
        await bus.dispatch(ShipOrder("9", "DHL"), CommandMetadata(command_id="ship-9"))
    ).version == 2
    assert OrderPlaced("ann", 1, "EUR") in await order_events().deserialise(
        await stored_events(store)
    )


class Rename(msgspec.Struct, frozen=True):
    name: Annotated[str, msgspec.Meta(max_length=40)]


def test_an_error_about_a_huge_value_does_not_repeat_it() -> None:
    with pytest.raises(CommandValidationError) as caught:
        to_command("Rename", Rename, {"name": "x" * 10**6})
    assert len(str(caught.value)) < 300, str(caught.value)[:300]
    assert "1000002 characters)" in str(caught.value)


class CheckedLine(msgspec.Struct, forbid_unknown_fields=True):
    product: Annotated[str, msgspec.Meta(min_length=1)]
    quantity: Annotated[int, msgspec.Meta(ge=1)]


class CheckedOrder(msgspec.Struct, forbid_unknown_fields=True):
    order_id: str
    lines: list[CheckedLine]
    currency: Literal["EUR", "GBP"] = "EUR"


async def test_nested_bad_fields_are_each_named_and_enums_list_their_choices(
    store: EventStore,
) -> None:
    bus = CommandBus(store)
    bus.register(CheckedOrder, lambda command, context: None)  # type: ignore[arg-type, return-value]
    payload = {
        "order_id": "1",
        "lines": [{"product": "", "quantity": 1}, {"product": "Tea", "quantity": 0, "x": 1}],
        "currency": "USD",
        "colour": "red",
    }
    with pytest.raises(CommandValidationError) as caught:
        bus.check_payload("CheckedOrder", payload)
    assert caught.value.problems == {
        "lines[0].product": "Expected `str` of length >= 1, got ''",
        "lines[1].quantity": "Expected `int` >= 1, got 0",
        "lines[1].x": "unknown field",
        "currency": "Invalid enum value 'USD'; expected one of 'EUR', 'GBP'",
        "colour": "unknown field",
    }
    with pytest.raises(UnknownCommandError):
        bus.check_payload("Nothing", {})
    bus.check_payload("CheckedOrder", {"order_id": "1", "lines": []})  # a valid one passes
    assert await stored_events(store) == []
