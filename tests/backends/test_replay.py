"""Replaying aggregates from `ReplayRecord`s gives exactly what the full pipeline gives.

A repository loads through `EventStore.replay_pages`, which SQLite and PostgreSQL answer
with each event's data still encoded, decoded straight into typed events. Every case
here is read both ways, on every backend, and must come out the same: plain events,
exact floats, Decimals written as JSON numbers, events an upcaster brings forward,
types without a class, and data that does not fit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio

import eventbook
from eventbook import (
    Aggregate,
    EventRegistry,
    EventSchemaError,
    EventStore,
    NewEvent,
    Repository,
    UnknownEventType,
)
from eventbook._store.types import RecordedEvent, ReplayRecord
from eventbook._write.replay import _decodes_alike
from eventbook.observability import Observability
from tests.conftest import PostgresForTests


class Priced(msgspec.Struct, frozen=True):
    sku: str
    price: float
    tags: list[str] = []


class Settled(msgspec.Struct, frozen=True):
    amount: Decimal


class Keyed(msgspec.Struct, frozen=True):
    counts: dict[int, int]


class Ledger(Aggregate[Any]):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []

    def apply(self, event: Any) -> None:
        self.seen.append(event)


def registry() -> EventRegistry:
    return EventRegistry([Priced, Settled, Keyed])


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    postgres: PostgresForTests = request.getfixturevalue("postgres")
    return postgres.store_url(request.getfixturevalue("postgres_schema"))


@pytest_asyncio.fixture
async def store(url: str) -> AsyncIterator[EventStore]:
    async with await eventbook.connect(url) as opened:
        opened.read_page_size = 7  # many pages, and runs of one type across pages
        yield opened


async def full_pipeline(store: EventStore, events: EventRegistry, stream: str) -> list[Any]:
    """The typed events of `stream` read as `RecordedEvent`s through `deserialise`."""
    return await events.deserialise([e async for e in store.read_stream(stream)])


async def loaded(store: EventStore, events: EventRegistry, stream: str) -> list[Any]:
    return (await Repository(store, Ledger, events).load(stream)).seen


def priced(n: int, price: float) -> NewEvent:
    return NewEvent("Priced", {"sku": f"s{n}", "price": price, "tags": ["a"] * (n % 3)})


FLOATS = [0.1, 1e300, 1.5e16, -2.5e-7, 123456789.123, 5e-324, 10, -0.0]


async def test_plain_events_and_floats_come_back_exactly(store: EventStore) -> None:
    events = registry()
    await store.append("ledger-1", [priced(n, p) for n, p in enumerate(FLOATS * 3)])
    await store.append("ledger-1", [NewEvent("Settled", {"amount": "10.10"}) for _ in range(3)])
    await store.append("ledger-1", [priced(1, 2.5)])
    seen = await loaded(store, events, "ledger-1")
    assert seen == await full_pipeline(store, events, "ledger-1")
    assert [e.price for e in seen[: len(FLOATS)]] == [float(p) for p in FLOATS]
    assert [repr(e.price) for e in seen[: len(FLOATS)]][-1] == "0.0"  # stored as 0.0
    assert seen[len(FLOATS) * 3] == Settled(Decimal("10.10"))
    assert repr(seen[len(FLOATS) * 3].amount) == "Decimal('10.10')"


async def test_a_decimal_stored_as_a_json_number_reads_as_it_always_has(
    store: EventStore,
) -> None:
    events = registry()
    amounts = [1.10, 0.1, 1.5e16, 1e20, 12345.678]
    await store.append("ledger-2", [NewEvent("Settled", {"amount": a}) for a in amounts * 2])
    seen = await loaded(store, events, "ledger-2")
    # Equal Decimals may differ in their digits (1E+20, 100000000000000000000.0): compare
    # what they print.
    assert [repr(e) for e in seen] == [
        repr(e) for e in await full_pipeline(store, events, "ledger-2")
    ]
    assert [e.amount for e in seen] == [Decimal(repr(a)) for a in amounts * 2]


async def test_older_schema_versions_are_upcast(store: EventStore) -> None:
    events = EventRegistry()
    events.register(Priced, version=2)
    events.add_upcaster("Priced", 1, lambda data: {**data, "price": data["price"] * 2})

    def at(version: int) -> list[NewEvent]:
        data = {"sku": "x", "price": 1.5}
        return [NewEvent("Priced", data, {"schema_version": version}) for _ in range(5)]

    for version in (1, 2, 1):
        await store.append("ledger-3", at(version))
    seen = await loaded(store, events, "ledger-3")
    assert seen == await full_pipeline(store, events, "ledger-3")
    assert [e.price for e in seen] == [3.0] * 5 + [1.5] * 5 + [3.0] * 5


async def test_a_type_without_a_class_fails_as_it_always_has(store: EventStore) -> None:
    events = registry()
    await store.append("ledger-4", [priced(n, 1.0) for n in range(10)])
    await store.append("ledger-4", [NewEvent("Unheard", {"x": 1})])
    with pytest.raises(UnknownEventType) as raised:
        await loaded(store, events, "ledger-4")
    assert raised.value.event is not None
    assert raised.value.event.version == 11


async def test_data_that_does_not_fit_is_reported_with_its_version(store: EventStore) -> None:
    events = registry()
    await store.append("ledger-5", [priced(n, 1.0) for n in range(10)])
    await store.append("ledger-5", [NewEvent("Priced", {"sku": "s", "price": "free"})])
    with pytest.raises(EventSchemaError, match="'ledger-5' version 11"):
        await loaded(store, events, "ledger-5")


async def test_a_dict_with_int_keys_takes_the_full_pipeline(store: EventStore) -> None:
    events = registry()
    await store.append("ledger-6", [NewEvent("Keyed", {"counts": {"1": 2}})])
    with pytest.raises(EventSchemaError):  # as before: converting refuses string keys
        await loaded(store, events, "ledger-6")


async def test_a_load_from_a_cached_or_partial_state_reads_only_the_rest(
    store: EventStore,
) -> None:
    events = registry()
    await store.append("ledger-7", [priced(n, n / 3) for n in range(30)])
    repository = Repository(store, Ledger, events)
    then = await repository.load("ledger-7", at_version=12)
    assert then.seen == (await full_pipeline(store, events, "ledger-7"))[:12]


async def test_sql_backends_hand_out_replay_records(store: EventStore) -> None:
    await store.append("ledger-8", [priced(n, 1.0) for n in range(3)])
    pages = [page async for page in store.replay_pages("ledger-8", from_version=2)]
    kinds = {type(record) for page in pages for record in page}
    assert [r.version for page in pages for r in page] == [2, 3]
    if type(store).__name__ == "MemoryEventStore":
        assert kinds == {RecordedEvent}
    else:
        assert kinds == {ReplayRecord}
        assert all(r.metadata.schema_version == 1 for page in pages for r in page)


def test_only_classes_that_decode_alike_both_ways_are_decoded_straight() -> None:
    class Nested(msgspec.Struct):
        inner: list[dict[str, tuple[int, Settled | None]]]

    assert _decodes_alike(Priced)
    assert not _decodes_alike(Settled)
    assert not _decodes_alike(Keyed)
    assert not _decodes_alike(Nested)


async def test_a_replay_read_again_in_full_counts_its_events_once(store: EventStore) -> None:
    obs = Observability()
    events = EventRegistry()
    events.register(Priced, version=2)
    events.add_upcaster("Priced", 1, lambda data: data)
    await store.append("ledger-9", [priced(n, 1.0) for n in range(20)])  # v1: read again
    repository = obs.repository(Repository(obs.store(store), Ledger, events))
    assert len((await repository.load("ledger-9")).seen) == 20
    counted = obs.registry.get_sample_value(
        "eventbook_aggregate_load_events_sum", {"aggregate": "Ledger"}
    )
    assert counted == 20
