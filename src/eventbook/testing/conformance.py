"""The event-store conformance suite: the contract, as tests every backend must pass.

Use it by subclassing in a test module and providing the `store_url` fixture, a URL of a
fresh, empty store (a new file, a new schema, ...)::

    class TestMyBackend(EventStoreConformance):
        @pytest.fixture
        def store_url(self, tmp_path):
            return f"sqlite:///{tmp_path}/events.db"

A backend that cannot be opened twice on the same data (the memory store) returns `None`
from `store_url` and overrides the `store` fixture instead; the tests that need a second
connection or another process are then skipped. Set `processes_allowed = False` for a
backend that several processes must not share.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import multiprocessing
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import pytest
import pytest_asyncio

from eventbook._connect import connect
from eventbook._errors import (
    ConcurrencyError,
    DuplicateEventError,
    StoreClosed,
    StreamNotFound,
    ValidationError,
)
from eventbook._store.encoding import MAX_EVENT_BYTES, MAX_NESTING
from eventbook._store.port import EventStore
from eventbook._store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    NewEvent,
    Position,
    RecordedEvent,
    category_of,
)
from eventbook.testing.append_signal import AppendSignalConformance, Opener
from eventbook.testing.importing import ImportConformance
from eventbook.testing.lifecycle import LifecycleConformance


def _nested(levels: int) -> dict[str, Any]:
    """A JSON object `levels` deep (the object itself is level 1), a list at the bottom."""
    inner: Any = [1]
    for _ in range(levels - 1):
        inner = {"in": inner}
    assert isinstance(inner, dict)
    return inner


def event(kind: str = "Happened", **data: Any) -> NewEvent:
    return NewEvent(kind, data or {"n": 0})


T = TypeVar("T")


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


async def take(events: AsyncIterator[RecordedEvent], count: int) -> list[RecordedEvent]:
    taken: list[RecordedEvent] = []
    async for e in events:
        taken.append(e)
        if len(taken) == count:
            break
    return taken


async def append_with_retry(store: EventStore, stream: str, new: NewEvent) -> int:
    """Append one event expecting the current version; on conflict, look again."""
    while True:
        version = await store.stream_version(stream)
        try:
            return (await store.append(stream, [new], expected=version)).version
        except ConcurrencyError:
            await asyncio.sleep(0)


def _process_writer(url: str, stream: str, count: int, tag: str) -> list[str]:
    """Runs in a child process: append `count` events with expected versions."""

    async def run() -> list[str]:
        store = await connect(url)
        async with store:
            ids = []
            for n in range(count):
                new = NewEvent("Written", {"by": tag, "n": n})
                await append_with_retry(store, stream, new)
                ids.append(str(new.id))
            return ids

    return asyncio.run(run())


class EventStoreConformance(AppendSignalConformance, ImportConformance, LifecycleConformance):
    """The shared contract. Subclass it and provide `store_url` (or `store`)."""

    processes_allowed = True

    @pytest.fixture
    def store_url(self) -> str | None:
        raise NotImplementedError("provide a store_url fixture for a fresh, empty store")

    @pytest_asyncio.fixture
    async def store(self, store_url: str | None) -> AsyncIterator[EventStore]:
        assert store_url is not None, "override the store fixture when store_url is None"
        opened = await connect(store_url)
        async with opened:
            yield opened

    @pytest.fixture
    def open_again(self, store_url: str | None) -> Opener:
        """Opens another connection to the same store (skips where that is impossible)."""
        if store_url is None:
            pytest.skip("this backend cannot be opened twice on the same data")
        url = store_url

        async def opener() -> EventStore:
            return await connect(url)

        return opener

    # -- versions and expectations ---------------------------------------------------------

    @pytest.mark.asyncio
    async def test_versions_start_at_one_and_count_up(self, store: EventStore) -> None:
        first = await store.append("order-1", [event(), event()])
        second = await store.append("order-1", [event()])
        assert (first.version, second.version) == (2, 3)
        assert [e.version for e in await collect(store.read_stream("order-1"))] == [1, 2, 3]
        assert await store.stream_version("order-1") == 3
        assert await store.stream_version("order-2") == 0

    @pytest.mark.asyncio
    async def test_no_stream_expectation(self, store: EventStore) -> None:
        await store.append("a-1", [event()], expected=NO_STREAM)
        with pytest.raises(ConcurrencyError) as caught:
            await store.append("a-1", [event()], expected=NO_STREAM)
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == (
            "a-1",
            NO_STREAM,
            1,
        )
        await store.append("a-2", [event()], expected=0)
        with pytest.raises(ConcurrencyError):
            await store.append("a-2", [event()], expected=0)

    @pytest.mark.asyncio
    async def test_stream_exists_expectation(self, store: EventStore) -> None:
        with pytest.raises(ConcurrencyError) as caught:
            await store.append("b-1", [event()], expected=STREAM_EXISTS)
        assert (caught.value.expected, caught.value.actual) == (STREAM_EXISTS, 0)
        await store.append("b-1", [event()])
        assert (await store.append("b-1", [event()], expected=STREAM_EXISTS)).version == 2

    @pytest.mark.asyncio
    async def test_exact_version_expectation(self, store: EventStore) -> None:
        await store.append("c-1", [event(), event()], expected=NO_STREAM)
        assert (await store.append("c-1", [event()], expected=2)).version == 3
        for stale in (1, 2, 4):
            with pytest.raises(ConcurrencyError) as caught:
                await store.append("c-1", [event()], expected=stale)
            assert (caught.value.stream, caught.value.expected, caught.value.actual) == (
                "c-1",
                stale,
                3,
            )
        assert await store.stream_version("c-1") == 3

    @pytest.mark.asyncio
    async def test_any_expectation(self, store: EventStore) -> None:
        await store.append("d-1", [event()], expected=ANY)
        assert (await store.append("d-1", [event()], expected=ANY)).version == 2

    @pytest.mark.asyncio
    async def test_append_result_names_the_last_event(self, store: EventStore) -> None:
        result = await store.append("e-1", [event(), event(), event()])
        stored = await collect(store.read_stream("e-1"))
        assert (result.version, result.position) == (stored[-1].version, stored[-1].position)
        assert await store.head() == result.position

    # -- atomicity and ids -------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_a_conflicting_batch_writes_nothing(self, store: EventStore) -> None:
        await store.append("f-1", [event()])
        with pytest.raises(ConcurrencyError):
            await store.append("f-1", [event(), event(), event()], expected=NO_STREAM)
        assert await store.stream_version("f-1") == 1
        assert len(await collect(store.read_all())) == 1

    @pytest.mark.asyncio
    async def test_a_batch_with_one_bad_event_writes_nothing(self, store: EventStore) -> None:
        bad = NewEvent("Bad", {"not json": object()})
        with pytest.raises(ValidationError):
            await store.append("g-1", [event(), event(), bad])
        assert await collect(store.read_all()) == []
        assert await store.head() is None

    @pytest.mark.asyncio
    async def test_a_retried_batch_returns_the_original_result(self, store: EventStore) -> None:
        batch = [event(n=1), event(n=2)]
        first = await store.append("h-1", batch, expected=NO_STREAM)
        await store.append("h-1", [event(n=3)])
        # A client that lost the reply retries with its original (now stale) expectation.
        again = await store.append("h-1", batch, expected=NO_STREAM)
        assert (again.version, again.position) == (first.version, first.position)
        assert (first.replayed, again.replayed) == (False, True)
        assert [e.data["n"] for e in await collect(store.read_stream("h-1"))] == [1, 2, 3]

    @pytest.mark.asyncio
    async def test_reused_ids_that_are_not_a_retry_are_refused(self, store: EventStore) -> None:
        one, two = event(n=1), event(n=2)
        await store.append("i-1", [one, two])
        cases = [
            ("i-1", [one, two, event(n=3)]),  # the stored batch plus a new event
            ("i-2", [one, two]),  # the same ids in another stream
            ("i-1", [two, one]),  # another order
            ("i-1", [NewEvent("Happened", {"n": 9}, id=one.id), two]),  # other data
        ]
        for stream, batch in cases:
            # Refused the same way when the expectation is stale too (checked first), and
            # when the refused appends are committed together with others.
            for expected in (ANY, NO_STREAM):
                with pytest.raises(DuplicateEventError):
                    await store.append(stream, batch, expected=expected)
            outcomes = await asyncio.gather(
                store.append(stream, batch, expected=NO_STREAM),
                store.append("i-3", [event(n=4)]),
                return_exceptions=True,
            )
            assert isinstance(outcomes[0], DuplicateEventError)
        assert len(await collect(store.read_all())) == 2 + len(cases)

    @pytest.mark.asyncio
    async def test_concurrent_identical_retries_store_once(self, store: EventStore) -> None:
        batch = [event(n=1)]
        results = await asyncio.gather(*(store.append("j-1", batch) for _ in range(5)))
        assert len({(r.version, r.position) for r in results}) == 1
        assert sorted(r.replayed for r in results) == [False, True, True, True, True]
        assert len(await collect(store.read_all())) == 1

    @pytest.mark.asyncio
    async def test_a_batch_repeating_an_id_is_refused(self, store: EventStore) -> None:
        one = event()
        with pytest.raises(ValidationError):
            await store.append("k-1", [one, one])
        assert await store.head() is None

    # -- reading one stream ----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_read_stream_forwards_and_backwards(self, store: EventStore) -> None:
        await store.append("l-1", [event(n=n) for n in range(1, 11)])
        await store.append("l-2", [event(n=99)])

        async def versions(**options: Any) -> list[int]:
            return [e.version for e in await collect(store.read_stream("l-1", **options))]

        assert await versions() == list(range(1, 11))
        assert await versions(from_version=4) == list(range(4, 11))
        assert await versions(from_version=4, limit=3) == [4, 5, 6]
        assert await versions(from_version=11) == []
        assert await versions(backwards=True) == list(range(10, 0, -1))
        assert await versions(backwards=True, limit=3) == [10, 9, 8]
        assert await versions(backwards=True, from_version=5) == [5, 4, 3, 2, 1]
        assert await versions(backwards=True, from_version=5, limit=2) == [5, 4]
        assert await versions(backwards=True, from_version=50, limit=2) == [10, 9]

    @pytest.mark.asyncio
    async def test_read_stream_pages_through_long_streams(self, store: EventStore) -> None:
        store.read_page_size = 7
        await store.append("m-1", [event(n=n) for n in range(1, 51)])
        assert [e.data["n"] for e in await collect(store.read_stream("m-1"))] == list(range(1, 51))
        got = await collect(store.read_stream("m-1", backwards=True, limit=20))
        assert [e.version for e in got] == list(range(50, 30, -1))
        choices: list[dict[str, Any]] = [{}, {"from_version": 10, "limit": 23}, {"backwards": True}]
        for options in choices:
            pages = await collect(store.read_stream_pages("m-1", **options))
            assert all(pages)  # never an empty page
            assert max(len(page) for page in pages) <= 7
            flat = [e for page in pages for e in page]
            assert flat == await collect(store.read_stream("m-1", **options))
        assert await collect(store.read_stream_pages("nothing-1")) == []

    @pytest.mark.asyncio
    async def test_missing_stream(self, store: EventStore) -> None:
        assert await collect(store.read_stream("nothing-1")) == []
        with pytest.raises(StreamNotFound) as caught:
            await collect(store.read_stream("nothing-1", must_exist=True))
        assert caught.value.stream == "nothing-1"

    @pytest.mark.asyncio
    async def test_recorded_events_carry_everything(self, store: EventStore) -> None:
        new = NewEvent("OrderPlaced", {"total": 10.5, "lines": [{"sku": "A"}]}, {"actor": "ann"})
        before = datetime.now(UTC) - timedelta(seconds=5)
        result = await store.append("order-7", [new])
        (recorded,) = await collect(store.read_stream("order-7"))
        assert isinstance(recorded.id, UUID)
        assert recorded.id == new.id
        assert (recorded.stream, recorded.version, recorded.type) == ("order-7", 1, "OrderPlaced")
        assert recorded.position == result.position
        assert recorded.data == new.data
        assert recorded.metadata == {"actor": "ann"}
        assert recorded.category == "order"
        assert recorded.recorded_at.tzinfo is not None
        assert before <= recorded.recorded_at <= datetime.now(UTC) + timedelta(seconds=5)

    @pytest.mark.asyncio
    async def test_unicode_round_trips_exactly(self, store: EventStore) -> None:
        data = {
            "text": 'Zoë • Ørsted — 東京 🚚 \u200b\t\n"quoted" \\back',
            "emoji🔑": ["ß", "\u00e9", "e\u0301"],
            "nested": {"ℕ": 1, "deep": [{"x": None, "y": True, "z": -1.5e300}]},
        }
        await store.append("Straße-東京", [NewEvent("Ünïcode", data, {"who": "Łukasz"})])
        (recorded,) = await collect(store.read_stream("Straße-東京"))
        assert recorded.data == data
        assert recorded.type == "Ünïcode"
        assert recorded.metadata == {"who": "Łukasz"}
        assert recorded.category == "Straße"

    @pytest.mark.asyncio
    async def test_negative_zero_reads_back_as_zero_everywhere(self, store: EventStore) -> None:
        # PostgreSQL's JSONB has one zero; every backend stores -0.0 as 0.0 alike.
        data = {"z": -0.0, "in": [{"z": -0.0}, -1.5, "-0.0"], "-0.0": 0.0}
        await store.append("zero-1", [NewEvent("Zero", data, {"z": -0.0})])
        await store.save_snapshot("zero-1", 1, {"z": -0.0}, schema="S:1")
        (recorded,) = await collect(store.read_stream("zero-1"))
        assert recorded.data == {"z": 0.0, "in": [{"z": 0.0}, -1.5, "-0.0"], "-0.0": 0.0}
        zeros = [recorded.data["z"], recorded.data["in"][0]["z"], recorded.metadata["z"]]
        snapshot = await store.load_snapshot("zero-1", schema="S:1")
        assert snapshot is not None
        zeros.append(snapshot.state["z"])
        assert [math.copysign(1.0, zero) for zero in zeros] == [1.0] * 4

    @pytest.mark.asyncio
    async def test_check_position_refuses_another_shape(self, store: EventStore) -> None:
        result = await store.append("shape-1", [event()])
        own = result.position
        assert store.check_position(own) == own
        other = Position(0, own.minor) if own.major else Position(97, own.minor)
        with pytest.raises(ValidationError, match="cannot come from"):
            store.check_position(other)
        with pytest.raises(ValidationError, match="must be a Position"):
            store.check_position(str(own))

    @pytest.mark.asyncio
    async def test_read_event_by_id(self, store: EventStore) -> None:
        new = event(n=5)
        await store.append("v-1", [event(), new])
        found = await store.read_event(new.id)
        assert found is not None
        assert (found.stream, found.version, found.data) == ("v-1", 2, {"n": 5})
        assert await store.read_event(event().id) is None
        with pytest.raises(ValidationError):
            await store.read_event("not-a-uuid")  # type: ignore[arg-type]

    # -- snapshots -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_snapshots_by_schema_and_version(self, store: EventStore) -> None:
        assert await store.load_snapshot("w-1", schema="Order:1") is None
        await store.save_snapshot("w-1", 10, {"total": 10, "name": "Zoë"}, schema="Order:1")
        await store.save_snapshot("w-1", 20, {"total": 20}, schema="Order:1")
        await store.save_snapshot("w-1", 30, {"total": 30}, schema="Order:2")
        newest = await store.load_snapshot("w-1", schema="Order:1")
        assert newest is not None
        assert (newest.stream, newest.version, newest.schema, newest.state) == (
            "w-1",
            20,
            "Order:1",
            {"total": 20},
        )
        assert newest.taken_at.tzinfo is not None
        older = await store.load_snapshot("w-1", schema="Order:1", max_version=19)
        assert older is not None
        assert older.state == {"total": 10, "name": "Zoë"}
        assert await store.load_snapshot("w-1", schema="Order:1", max_version=9) is None
        other = await store.load_snapshot("w-1", schema="Order:2")
        assert other is not None
        assert other.version == 30
        await store.save_snapshot("w-1", 20, {"total": 21}, schema="Order:1")
        replaced = await store.load_snapshot("w-1", schema="Order:1")
        assert replaced is not None
        assert replaced.state == {"total": 21}
        assert await store.head() is None  # snapshots are not events

    @pytest.mark.asyncio
    async def test_bad_snapshots_are_refused(self, store: EventStore) -> None:
        with pytest.raises(ValidationError):
            await store.save_snapshot("w-2", 0, {}, schema="S:1")
        with pytest.raises(ValidationError):
            await store.save_snapshot("w-2", 1, [], schema="S:1")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await store.save_snapshot("w-2", 1, {}, schema="")
        with pytest.raises(ValidationError):
            await store.save_snapshot("w-2", 1, {"total": float("nan")}, schema="S:1")
        assert await store.load_snapshot("w-2", schema="S:1") is None

    # -- the global order ------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_read_all_in_global_order(self, store: EventStore) -> None:
        await store.append("order-1", [event("OrderPlaced", n=1)])
        await store.append("cart-1", [event("CartOpened", n=2), event("ItemAdded", n=3)])
        await store.append("order-1", [event("OrderShipped", n=4)])
        everything = await collect(store.read_all())
        assert [e.data["n"] for e in everything] == [1, 2, 3, 4]
        positions = [e.position for e in everything]
        assert positions == sorted(positions)
        assert len(set(positions)) == 4
        after_second = await collect(store.read_all(after=positions[1]))
        assert [e.data["n"] for e in after_second] == [3, 4]
        assert [e.data["n"] for e in await collect(store.read_all(limit=2))] == [1, 2]
        assert await collect(store.read_all(after=positions[-1])) == []

    @pytest.mark.asyncio
    async def test_read_all_filters(self, store: EventStore) -> None:
        store.read_page_size = 3
        for n in range(12):
            stream = f"order-{n}" if n % 2 else f"cart-{n}"
            await store.append(stream, [event("Even" if n % 3 == 0 else "Other", n=n)])

        async def numbers(**options: Any) -> list[int]:
            return [e.data["n"] for e in await collect(store.read_all(**options))]

        assert await numbers(categories=["order"]) == [1, 3, 5, 7, 9, 11]
        assert await numbers(categories="order") == [1, 3, 5, 7, 9, 11]
        assert await numbers(types=["Even"]) == [0, 3, 6, 9]
        assert await numbers(types=["Even"], categories=["order"]) == [3, 9]
        assert await numbers(types=["Even", "Other"], limit=5) == [0, 1, 2, 3, 4]
        page = await store.read_all_page(types=["Even"], limit=2)
        assert [e.data["n"] for e in page] == [0, 3]

    @pytest.mark.asyncio
    async def test_positions_round_trip_through_strings(self, store: EventStore) -> None:
        await store.append("p-1", [event(), event()])
        for recorded in await collect(store.read_all()):
            text = str(recorded.position)
            assert Position.parse(text) == recorded.position
            rest = await collect(store.read_all(after=Position.parse(text)))
            assert all(e.position > recorded.position for e in rest)

    @pytest.mark.asyncio
    async def test_everything_up_to_the_head_is_readable(self, store: EventStore) -> None:
        """Readers that move a checkpoint to `head()` (filtered subscriptions, projections)
        rely on this: once `head()` returned h, no event at or before h appears later."""

        async def writer(tag: int) -> None:
            for n in range(20):
                await store.append(f"head-{tag % 3}", [event(tag=tag, n=n)])

        writing = asyncio.gather(*(writer(t) for t in range(6)))
        seen: list[tuple[Position, list[UUID]]] = []
        while not writing.done():
            head = await store.head()
            if head is not None:
                early = await collect(store.read_all())
                seen.append((head, [e.id for e in early if e.position <= head]))
            await asyncio.sleep(0)
        await writing
        everything = await collect(store.read_all())
        assert len(everything) == 120
        assert await store.head() == everything[-1].position
        for head, early_ids in seen:
            assert [e.id for e in everything if e.position <= head] == early_ids

    @pytest.mark.asyncio
    async def test_head(self, store: EventStore) -> None:
        assert await store.head() is None
        await store.append("q-1", [event()])
        result = await store.append("q-2", [event(), event()])
        assert await store.head() == result.position

    # -- subscriptions ---------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_subscribe_delivers_history_then_live_events(self, store: EventStore) -> None:
        await store.append("order-1", [event(n=1), event(n=2)])
        received: list[int] = []
        got_four = asyncio.Event()

        async def consume() -> None:
            async for e in store.subscribe():
                received.append(e.data["n"])
                if len(received) == 4:
                    got_four.set()

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await store.append("order-2", [event(n=3)])
        await store.append("order-1", [event(n=4)])
        await asyncio.wait_for(got_four.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert received == [1, 2, 3, 4]

    @pytest.mark.asyncio
    async def test_subscribe_after_a_position_with_filters(self, store: EventStore) -> None:
        first = await store.append("order-1", [event("Placed", n=1)])
        await store.append("cart-1", [event("Placed", n=2)])
        subscription = store.subscribe(after=first.position, categories=["order"])
        waiter = asyncio.create_task(take(subscription, 2))
        await store.append("order-2", [event("Placed", n=3)])
        await store.append("cart-1", [event("Placed", n=4)])
        await store.append("order-1", [event("Shipped", n=5)])
        got = await asyncio.wait_for(waiter, 10)
        assert [e.data["n"] for e in got] == [3, 5]

    @pytest.mark.asyncio
    async def test_breaking_out_of_a_subscription_stops_it(self, store: EventStore) -> None:
        await store.append("r-1", [event(n=n) for n in range(5)])
        subscription = store.subscribe()
        assert len(await take(subscription, 3)) == 3
        await subscription.aclose()  # type: ignore[attr-defined]
        await store.append("r-1", [event()])  # the store still works afterwards

    # -- bad input -------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("stream", "events", "expected"),
        [
            ("", [NewEvent("A", {})], ANY),
            ("   ", [NewEvent("A", {})], ANY),
            ("x" * 201, [NewEvent("A", {})], ANY),
            ("order\n1", [NewEvent("A", {})], ANY),
            ("order\x001", [NewEvent("A", {})], ANY),
            ("order-\ud800", [NewEvent("A", {})], ANY),
            (42, [NewEvent("A", {})], ANY),
            ("order-1", [], ANY),
            ("order-1", NewEvent("A", {}), ANY),
            ("order-1", [NewEvent("", {})], ANY),
            ("order-1", [NewEvent("Bad\ttype", {})], ANY),
            ("order-1", [NewEvent("A", [1, 2])], ANY),  # type: ignore[arg-type]
            ("order-1", [NewEvent("A", "text")], ANY),  # type: ignore[arg-type]
            ("order-1", [NewEvent("A", {}, ["meta"])], ANY),  # type: ignore[arg-type]
            ("order-1", [NewEvent("A", {"x": object()})], ANY),
            ("order-1", [NewEvent("A", {"x": 1j})], ANY),
            ("order-1", [NewEvent("A", {"x": float("nan")})], ANY),  # no JSON form
            ("order-1", [NewEvent("A", {"x": [1, {"y": float("inf")}]})], ANY),
            ("order-1", [NewEvent("A", {}, {"z": float("-inf")})], ANY),
            ("order-1", [NewEvent("A", {"x": (1, float("nan"))})], ANY),  # inside a tuple
            ("order-1", [NewEvent("A", {1: "one"})], ANY),  # type: ignore[dict-item]  # str keys
            ("order-1", [{"type": "A", "data": {}}], ANY),
            ("order-1", [NewEvent("A", {})], -1),
            ("order-1", [NewEvent("A", {})], "1"),
            ("order-1", [NewEvent("A", {})], True),
            ("order-1", [NewEvent("A", {"blob": "x" * (2 * MAX_EVENT_BYTES)})], ANY),
        ],
    )
    async def test_bad_input_is_refused_and_writes_nothing(
        self, store: EventStore, stream: Any, events: Any, expected: Any
    ) -> None:
        with pytest.raises(ValidationError):
            await store.append(stream, events, expected)
        assert await store.head() is None

    @pytest.mark.asyncio
    @pytest.mark.parametrize("levels", [MAX_NESTING + 1, 5_000, 100_000])
    async def test_data_nested_too_deeply_is_refused(self, store: EventStore, levels: int) -> None:
        with pytest.raises(ValidationError, match="nested"):
            await store.append("deep-1", [NewEvent("Deep", _nested(levels))])
        with pytest.raises(ValidationError, match="nested"):
            await store.append("deep-1", [NewEvent("Deep", {}, _nested(levels))])
        with pytest.raises(ValidationError, match="nested"):
            await store.save_snapshot("deep-1", 1, _nested(levels), schema="S:1")
        assert await store.head() is None

    @pytest.mark.asyncio
    async def test_data_nested_up_to_the_limit_is_stored(self, store: EventStore) -> None:
        deepest = _nested(MAX_NESTING)
        await store.append("deep-1", [NewEvent("Deep", deepest)])
        (recorded,) = await collect(store.read_stream("deep-1"))
        assert recorded.data == deepest

    @pytest.mark.asyncio
    async def test_bad_read_arguments_are_refused(self, store: EventStore) -> None:
        with pytest.raises(ValidationError):
            await collect(store.read_stream(""))
        with pytest.raises(ValidationError):
            await collect(store.read_stream("s-1", from_version=0))
        with pytest.raises(ValidationError):
            await collect(store.read_stream("s-1", limit=0))
        with pytest.raises(ValidationError):
            await collect(store.read_all(after="12"))  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await collect(store.read_all(types=[]))
        with pytest.raises(ValidationError):
            Position.parse("twelve")
        with pytest.raises(ValidationError):
            Position.parse("\u0661\u0662")  # Arabic-Indic digits: positions are ASCII
        with pytest.raises(ValidationError):
            await store.stream_version("")
        too_big = 2**63  # beyond a signed 64-bit database integer
        with pytest.raises(ValidationError):
            await collect(store.read_stream("s-1", from_version=too_big))
        with pytest.raises(ValidationError):
            await collect(store.read_stream("s-1", limit=too_big))
        with pytest.raises(ValidationError):
            await collect(store.read_all(after=Position(0, too_big)))
        with pytest.raises(ValidationError):
            await store.load_snapshot("s-1", schema="S:1", max_version=too_big)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("stream", ["-x", "-", "--", "-order-1", " -x", "\u3000-x"])
    async def test_streams_without_a_category_are_refused(
        self, store: EventStore, stream: str
    ) -> None:
        # A category filter could never select such a stream.
        with pytest.raises(ValidationError, match="category"):
            await store.append(stream, [event()])
        with pytest.raises(ValidationError, match="category"):
            await collect(store.read_stream(stream))
        assert await store.head() is None

    @pytest.mark.asyncio
    async def test_every_stream_has_a_category_a_filter_selects(self, store: EventStore) -> None:
        for stream in ("x-", "y--1", "z", "a b-1"):
            await store.append(stream, [event()])
            (found,) = await collect(store.read_all(categories=[category_of(stream)]))
            assert found.stream == stream

    @pytest.mark.asyncio
    @pytest.mark.parametrize("name", ["\ud800", "a\udfffb", "bad\x00", "tab\x1f", " "])
    async def test_filters_naming_what_no_name_can_be_are_refused(
        self, store: EventStore, name: str
    ) -> None:
        await store.append("order-1", [event()])
        for types, categories in (([name], None), (None, [name]), (["Happened", name], None)):
            with pytest.raises(ValidationError):
                await collect(store.read_all(types=types, categories=categories))
            with pytest.raises(ValidationError):
                await store.read_all_page(types=types, categories=categories)
            with pytest.raises(ValidationError):
                await take(store.subscribe(types=types, categories=categories), 1)

    @pytest.mark.asyncio
    async def test_an_expectation_beyond_32_bits_is_checked_like_any(
        self, store: EventStore
    ) -> None:
        await store.append("big-version-1", [event()])
        with pytest.raises(ConcurrencyError) as caught:
            await store.append("big-version-1", [event()], expected=2**31)
        assert (caught.value.expected, caught.value.actual) == (2**31, 1)
        with pytest.raises(ValidationError):
            await store.append("big-version-1", [event()], expected=2**63)

    @pytest.mark.asyncio
    async def test_an_event_just_under_the_limit_is_stored(self, store: EventStore) -> None:
        blob = "x" * (MAX_EVENT_BYTES - 100)
        await store.append("big-1", [NewEvent("Big", {"blob": blob})])
        (recorded,) = await collect(store.read_stream("big-1"))
        assert recorded.data["blob"] == blob

    @pytest.mark.asyncio
    async def test_a_closed_store_refuses_work(self, store: EventStore) -> None:
        await store.close()
        with pytest.raises(StoreClosed):
            await store.append("t-1", [event()])
        with pytest.raises(StoreClosed):
            await collect(store.read_all())
        await store.close()  # closing twice is harmless

    # -- concurrency -----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_racing_writers_get_one_winner_per_version(self, store: EventStore) -> None:
        async def writer(tag: int) -> list[UUID]:
            ids = []
            for n in range(15):
                new = NewEvent("Raced", {"tag": tag, "n": n})
                await append_with_retry(store, "race-1", new)
                ids.append(new.id)
            return ids

        written = await asyncio.gather(*(writer(tag) for tag in range(8)))
        stored = await collect(store.read_stream("race-1"))
        assert [e.version for e in stored] == list(range(1, 121))
        assert sorted(e.id for e in stored) == sorted(i for ids in written for i in ids)

    @pytest.mark.asyncio
    async def test_one_stale_append_fails_alone(self, store: EventStore) -> None:
        await store.append("u-1", [event()])
        outcomes = await asyncio.gather(
            store.append("u-1", [event()], expected=1),
            store.append("u-1", [event()], expected=1),
            store.append("u-2", [event()], expected=NO_STREAM),
            store.append("u-3", [event()], expected=NO_STREAM),
            return_exceptions=True,
        )
        assert sum(isinstance(o, ConcurrencyError) for o in outcomes) == 1
        assert await store.stream_version("u-1") == 2
        assert await store.stream_version("u-2") == 1
        assert await store.stream_version("u-3") == 1

    @pytest.mark.asyncio
    async def test_writers_on_several_connections(
        self, store: EventStore, open_again: Opener
    ) -> None:
        others = [await open_again() for _ in range(3)]
        try:

            async def writer(connection: EventStore, tag: int) -> None:
                for n in range(20):
                    await append_with_retry(connection, "shared-1", event(tag=tag, n=n))

            await asyncio.gather(*(writer(c, t) for t, c in enumerate([store, *others])))
        finally:
            for other in others:
                await other.close()
        stored = await collect(store.read_stream("shared-1"))
        assert [e.version for e in stored] == list(range(1, 81))
        assert len({(e.data["tag"], e.data["n"]) for e in stored}) == 80

    @pytest.mark.asyncio
    async def test_writers_in_several_processes(
        self, store: EventStore, store_url: str | None
    ) -> None:
        if store_url is None or not self.processes_allowed:
            pytest.skip("this backend is not shared between processes")
        url = store_url
        context = multiprocessing.get_context("spawn")
        loop = asyncio.get_running_loop()
        with context.Pool(4) as pool:
            jobs = [
                loop.run_in_executor(None, pool.apply, _process_writer, (url, "proc-1", 25, str(t)))
                for t in range(4)
            ]
            written = await asyncio.gather(*jobs)
        stored = await collect(store.read_stream("proc-1"))
        assert [e.version for e in stored] == list(range(1, 101))
        assert sorted(str(e.id) for e in stored) == sorted(i for ids in written for i in ids)

    @pytest.mark.asyncio
    async def test_gap_safety_under_concurrent_writers(self, store: EventStore) -> None:
        """A subscriber started first sees every event once, in an order it never revises."""
        writers, appends_each = 8, 40
        total = writers * appends_each * 2
        seen: list[RecordedEvent] = []
        done = asyncio.Event()

        async def subscriber() -> None:
            async for e in store.subscribe():
                seen.append(e)
                if len(seen) == total:
                    done.set()

        watching = asyncio.create_task(subscriber())
        await asyncio.sleep(0.05)
        rng = random.Random(7)

        async def writer(tag: int) -> None:
            for n in range(appends_each):
                stream = f"gap-{rng.randrange(5)}"
                await store.append(stream, [event(tag=tag, n=n), event(tag=tag, n=n)])
                if rng.random() < 0.3:
                    await asyncio.sleep(0)

        await asyncio.gather(*(writer(t) for t in range(writers)))
        await asyncio.wait_for(done.wait(), 30)
        await asyncio.sleep(0.2)  # anything delivered late or twice would show up now
        watching.cancel()
        positions = [e.position for e in seen]
        assert len(seen) == total
        assert all(a < b for a, b in itertools.pairwise(positions))
        assert [e.id for e in seen] == [e.id for e in await collect(store.read_all())]
