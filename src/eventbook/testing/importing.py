"""The privileged import and the optional inspection parts of the event-store contract.

`EventStoreConformance` includes these tests; they use its `store` fixture. The
inspection tests (`list_streams`, `stats`) are skipped on a backend that raises
`NotSupported` for them; the import tests apply to every backend.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from eventbook._errors import NotSupported, ValidationError
from eventbook._store.ids import uuid7
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent, Position, RecordedEvent

_ORIGIN = datetime(2020, 2, 29, 12, 30, 15, 123456, tzinfo=UTC)


def copied(stream: str, version: int, n: int = 0, **data: Any) -> RecordedEvent:
    """An event as another store recorded it, long ago, at some foreign position."""
    return RecordedEvent(
        id=uuid7(),
        stream=stream,
        version=version,
        position=Position(0, 10_000 + n),
        type="Copied",
        data={"n": n, **data},
        metadata={"source": "elsewhere", "n": n},
        recorded_at=_ORIGIN + timedelta(seconds=n, microseconds=n),
    )


def _kept(event: RecordedEvent) -> tuple[UUID, str, int, str, object, object, datetime]:
    return (
        event.id,
        event.stream,
        event.version,
        event.type,
        event.data,
        event.metadata,
        event.recorded_at,
    )


async def _all(store: EventStore) -> list[RecordedEvent]:
    return [event async for event in store.read_all()]


class ImportConformance:
    """`import_events` keeps what was recorded; `list_streams` and `stats` add up."""

    @pytest.mark.asyncio
    async def test_an_import_keeps_ids_versions_data_metadata_and_recorded_at(
        self, store: EventStore
    ) -> None:
        events = [copied("order-1", 1, 0), copied("order-1", 2, 1), copied("user-7", 1, 2)]
        await store.import_events(events)
        stored = await _all(store)
        assert [_kept(e) for e in stored] == [_kept(e) for e in events]
        assert [e.position for e in stored] == sorted(e.position for e in stored)
        again = await store.read_event(events[1].id)
        assert again is not None
        assert _kept(again) == _kept(events[1])

    @pytest.mark.asyncio
    async def test_an_import_keeps_the_order_given_across_streams(self, store: EventStore) -> None:
        events = [copied(f"s-{n % 3}", n // 3 + 1, n) for n in range(12)]
        await store.import_events(events)
        assert [e.id for e in await _all(store)] == [e.id for e in events]

    @pytest.mark.asyncio
    async def test_an_import_continues_a_stream_at_the_version_before_it(
        self, store: EventStore
    ) -> None:
        await store.append("order-1", [NewEvent("Placed", {"n": 0})])
        await store.import_events([copied("order-1", 2, 1)])
        assert await store.stream_version("order-1") == 2

    @pytest.mark.asyncio
    @pytest.mark.parametrize("existing", [0, 2])
    async def test_an_import_into_a_stream_at_another_version_is_refused_and_writes_nothing(
        self, store: EventStore, existing: int
    ) -> None:
        for n in range(existing):
            await store.append("order-1", [NewEvent("Placed", {"n": n})])
        before = await _all(store)
        batch = [copied("other-1", 1, 0), copied("order-1", 2, 1)]
        with pytest.raises(ValidationError, match="order-1"):
            await store.import_events(batch)
        assert [e.id for e in await _all(store)] == [e.id for e in before]
        assert await store.stream_version("other-1") == 0

    @pytest.mark.asyncio
    async def test_an_import_of_events_stored_already_is_refused(self, store: EventStore) -> None:
        events = [copied("order-1", 1, 0)]
        await store.import_events(events)
        with pytest.raises(ValidationError):
            await store.import_events(events)
        assert len(await _all(store)) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "bad",
        [
            [],
            [copied("order-1", 1, 0), copied("order-1", 3, 1)],
            [copied("order-1", 1, 0)] * 2,
        ],
        ids=["empty", "version-gap", "repeated-id"],
    )
    async def test_a_malformed_import_is_refused(
        self, store: EventStore, bad: list[RecordedEvent]
    ) -> None:
        with pytest.raises(ValidationError):
            await store.import_events(bad)
        assert await _all(store) == []

    @pytest.mark.asyncio
    async def test_a_naive_recorded_at_is_refused(self, store: EventStore) -> None:
        naive = msgspec.structs.replace(copied("order-1", 1), recorded_at=datetime(2020, 1, 1))
        with pytest.raises(ValidationError, match="recorded_at"):
            await store.import_events([naive])

    @pytest.mark.asyncio
    async def test_an_import_wakes_subscribers(self, store: EventStore) -> None:
        async def first() -> RecordedEvent:
            async for event in store.subscribe():
                return event
            raise AssertionError("the subscription ended")

        waiting = asyncio.create_task(first())
        await asyncio.sleep(0.05)
        event = copied("order-1", 1)
        await store.import_events([event])
        got = await asyncio.wait_for(waiting, 5)
        assert got.id == event.id

    @pytest.mark.asyncio
    async def test_list_streams_gives_versions_sizes_and_last_events(
        self, store: EventStore
    ) -> None:
        await store.append("order-1", [NewEvent("Placed", {"n": 1}), NewEvent("Paid", {"n": 2})])
        await store.append("order-2", [NewEvent("Placed", {"text": "x" * 500})])
        last = await store.append("user-1", [NewEvent("Joined", {})])
        try:
            streams = await store.list_streams()
        except NotSupported:
            pytest.skip("this backend does not list streams")
        assert [(s.stream, s.version) for s in streams] == [
            ("order-1", 2),
            ("order-2", 1),
            ("user-1", 1),
        ]
        assert streams[1].bytes > streams[0].bytes > 0
        assert streams[2].last_position == last.position
        user = [e async for e in store.read_stream("user-1")][-1]
        assert streams[2].last_recorded_at == user.recorded_at
        orders = await store.list_streams(category="order")
        assert [s.stream for s in orders] == ["order-1", "order-2"]
        assert await store.list_streams(category="nothing") == []

    @pytest.mark.asyncio
    async def test_stats_count_events_streams_and_types(self, store: EventStore) -> None:
        await store.append("order-1", [NewEvent("Placed", {}), NewEvent("Paid", {})])
        await store.append("order-2", [NewEvent("Placed", {})])
        try:
            stats = await store.stats()
        except NotSupported:
            pytest.skip("this backend does not report statistics")
        assert (stats.events, stats.streams) == (3, 2)
        assert stats.events_per_type == {"Placed": 2, "Paid": 1}
        assert stats.bytes_on_disk is None or stats.bytes_on_disk > 0
