"""The stream-lifecycle part of the event-store contract: delete, tombstone, truncate,
retention, purge, and the system events that tell projections about them.

`EventStoreConformance` includes these tests; they use its `store` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from eventbook._errors import (
    ConcurrencyError,
    NotSupported,
    StreamDeleted,
    StreamNotFound,
    ValidationError,
)
from eventbook._store.lifecycle import STREAM_ARCHIVED, STREAM_DELETED, STREAM_TRUNCATED
from eventbook._store.port import EventStore
from eventbook._store.types import NO_STREAM, NewEvent, RecordedEvent
from eventbook.testing.importing import copied


def _new(n: int) -> NewEvent:
    return NewEvent("Happened", {"n": n})


async def _stream(store: EventStore, stream: str, **options: Any) -> list[int]:
    return [e.version async for e in store.read_stream(stream, **options)]


async def _all(store: EventStore, **options: Any) -> list[RecordedEvent]:
    return [e async for e in store.read_all(**options)]


async def _filled(store: EventStore, stream: str, count: int) -> list[RecordedEvent]:
    await store.append(stream, [_new(n) for n in range(1, count + 1)])
    return [e async for e in store.read_stream(stream)]


class LifecycleConformance:
    """Deleted streams read as deleted; removed events never come back; markers are events.

    A backend that refuses the lifecycle operations with `NotSupported` (and documents
    it) sets `lifecycle_supported = False` and these tests are skipped.
    """

    lifecycle_supported = True

    @pytest.fixture(autouse=True)
    def _lifecycle_or_skip(self, request: pytest.FixtureRequest) -> None:
        mine = request.function.__qualname__.startswith(f"{LifecycleConformance.__name__}.")
        plainly = request.function.__name__.endswith("_refuses_it_plainly")
        if mine and not plainly and not self.lifecycle_supported:
            pytest.skip("this backend does not offer the stream lifecycle")

    @pytest.mark.asyncio
    async def test_a_backend_without_the_lifecycle_refuses_it_plainly(
        self, store: EventStore
    ) -> None:
        if self.lifecycle_supported:
            pytest.skip("this backend offers the stream lifecycle")
        await _filled(store, "life-z", 2)
        for operation in (
            store.delete_stream("life-z"),
            store.tombstone_stream("life-z"),
            store.truncate_stream("life-z", before=2),
            store.purge_stream("life-z"),
            store.set_stream_retention("life-z", max_count=1),
            store.retained_streams(),
        ):
            with pytest.raises(NotSupported):
                await operation
        assert await _stream(store, "life-z") == [1, 2]  # nothing changed
        assert (await store.stream_state("life-z")).exists

    @pytest.mark.asyncio
    async def test_a_deleted_stream_reads_as_deleted_and_refuses_appends(
        self, store: EventStore
    ) -> None:
        await _filled(store, "life-a", 2)
        await store.delete_stream("life-a", expected=2)
        assert await _stream(store, "life-a") == []
        with pytest.raises(StreamDeleted) as deleted:
            await _stream(store, "life-a", must_exist=True)
        assert deleted.value.hard is False
        assert isinstance(deleted.value, StreamNotFound)
        with pytest.raises(StreamDeleted):
            await store.append("life-a", [_new(3)])
        state = await store.stream_state("life-a")
        assert (state.deleted, state.tombstoned, state.exists, state.version) == (
            True,
            False,
            False,
            2,
        )

    @pytest.mark.asyncio
    async def test_restart_starts_a_new_history_after_the_deleted_versions(
        self, store: EventStore
    ) -> None:
        await _filled(store, "life-b", 2)
        await store.delete_stream("life-b")
        result = await store.append("life-b", [_new(9)], expected=NO_STREAM, restart=True)
        assert result.version == 3
        assert await _stream(store, "life-b") == [3]
        assert await _stream(store, "life-b", backwards=True) == [3]
        assert await _stream(store, "life-b", from_version=1) == [3]
        await store.append("life-b", [_new(10)], expected=3)  # an ordinary stream again
        assert (await store.stream_state("life-b")).exists

    @pytest.mark.asyncio
    async def test_no_append_racing_a_delete_lands_after_it(self, store: EventStore) -> None:
        await _filled(store, "life-race", 1)

        async def writer() -> int:
            written = 0
            for n in range(30):
                try:
                    await store.append("life-race", [_new(n)])
                except StreamDeleted:
                    return written
                written += 1
            return written

        writers = [asyncio.create_task(writer()) for _ in range(4)]
        await asyncio.sleep(0.01)  # let them get going
        deleted = await store.delete_stream("life-race")
        written = sum(await asyncio.gather(*writers))
        (marker,) = [e async for e in store.read_all(after=None) if e.type == STREAM_DELETED]
        # Every append that succeeded lies before the deletion: none reappears after it.
        assert marker.position == deleted.position
        assert marker.data["version"] == 1 + written
        assert await store.stream_version("life-race") == 1 + written
        assert await _stream(store, "life-race") == []

    @pytest.mark.asyncio
    async def test_deleting_checks_expectations_and_existence(self, store: EventStore) -> None:
        await _filled(store, "life-c", 2)
        with pytest.raises(ConcurrencyError):
            await store.delete_stream("life-c", expected=1)
        with pytest.raises(StreamNotFound):
            await store.delete_stream("life-none")
        await store.delete_stream("life-c")
        with pytest.raises(StreamDeleted):
            await store.delete_stream("life-c")

    @pytest.mark.asyncio
    async def test_a_tombstone_removes_the_events_and_the_name_for_ever(
        self, store: EventStore
    ) -> None:
        events = await _filled(store, "life-d", 3)
        await store.save_snapshot("life-d", 3, {"n": 3}, schema="s1")
        await store.tombstone_stream("life-d")
        assert await store.read_event(events[0].id) is None
        assert not [e for e in await _all(store) if e.stream == "life-d"]
        assert await store.load_snapshot("life-d", schema="s1") is None
        for restart in (False, True):
            with pytest.raises(StreamDeleted) as refused:
                await store.append("life-d", [_new(4)], restart=restart)
            assert refused.value.hard is True
        with pytest.raises(StreamDeleted):
            await _stream(store, "life-d", must_exist=True)
        await store.tombstone_stream("life-never-written")  # reserves the name
        with pytest.raises(StreamDeleted):
            await store.append("life-never-written", [_new(1)], expected=NO_STREAM)

    @pytest.mark.asyncio
    async def test_a_soft_deleted_stream_can_still_be_tombstoned(self, store: EventStore) -> None:
        events = await _filled(store, "life-e", 2)
        await store.delete_stream("life-e")
        await store.tombstone_stream("life-e")
        assert await store.read_event(events[1].id) is None
        assert (await store.stream_state("life-e")).tombstoned

    @pytest.mark.asyncio
    async def test_projections_see_deletions_as_system_events(self, store: EventStore) -> None:
        await _filled(store, "life-f", 2)
        await _filled(store, "life-g", 4)
        deleted = await store.delete_stream("life-f")
        tombstoned = await store.tombstone_stream("life-g")
        markers = await _all(store, categories=["$$life"])
        assert [(m.stream, m.type, m.data["hard"], m.data["version"]) for m in markers] == [
            ("$$life-f", STREAM_DELETED, False, 2),
            ("$$life-g", STREAM_DELETED, True, 4),
        ]
        assert [m.position for m in markers] == [deleted.position, tombstoned.position]
        assert await _all(store, types=[STREAM_DELETED]) == markers

    @pytest.mark.asyncio
    async def test_applications_cannot_write_system_streams(self, store: EventStore) -> None:
        with pytest.raises(ValidationError):
            await store.append("$$life-h", [_new(1)])
        with pytest.raises(ValidationError):
            await store.delete_stream("$$life-h")

    @pytest.mark.asyncio
    async def test_positions_of_removed_events_are_never_reused(self, store: EventStore) -> None:
        events = await _filled(store, "life-i", 3)
        subscription = cast(AsyncGenerator[RecordedEvent, None], store.subscribe())
        seen = [await anext(subscription) for _ in range(3)]
        await store.tombstone_stream("life-i")  # removes the newest events of the store
        later = await store.append("life-j", [_new(1)])
        assert later.position > events[-1].position
        everything = await _all(store)
        positions = [e.position for e in everything]
        assert positions == sorted(set(positions))
        # A reader that saw the removed events goes on after them, gap-safe.
        rest = [await anext(subscription) for _ in range(2)]
        await subscription.aclose()
        assert [e.type for e in rest] == [STREAM_DELETED, "Happened"]
        assert all(e.position > seen[-1].position for e in rest)

    @pytest.mark.asyncio
    async def test_truncate_removes_the_events_before_a_version(self, store: EventStore) -> None:
        events = await _filled(store, "life-k", 5)
        result = await store.truncate_stream("life-k", before=3)
        assert result is not None
        assert await _stream(store, "life-k") == [3, 4, 5]
        assert await _stream(store, "life-k", from_version=1, limit=2) == [3, 4]
        assert await _stream(store, "life-k", backwards=True) == [5, 4, 3]
        assert await _stream(store, "life-k", backwards=True, from_version=2) == []
        assert await store.read_event(events[0].id) is None
        assert [e.version for e in await _all(store) if e.stream == "life-k"] == [3, 4, 5]
        assert (await store.append("life-k", [_new(6)], expected=5)).version == 6
        (marker,) = await _all(store, types=[STREAM_TRUNCATED])
        assert (marker.stream, marker.data["before"], marker.position) == (
            "$$life-k",
            3,
            result.position,
        )
        assert await store.truncate_stream("life-k", before=2) is None  # nothing left there

    @pytest.mark.asyncio
    async def test_truncate_keeps_the_newest_event_and_the_newest_snapshot(
        self, store: EventStore
    ) -> None:
        await _filled(store, "life-l", 6)
        for version in (2, 4):
            await store.save_snapshot("life-l", version, {"v": version}, schema="s1")
        await store.truncate_stream("life-l")  # at the newest snapshot
        assert await _stream(store, "life-l") == [5, 6]
        kept = await store.load_snapshot("life-l", schema="s1")
        assert kept is not None
        assert kept.version == 4
        assert await store.load_snapshot("life-l", schema="s1", max_version=3) is None
        await store.truncate_stream("life-l", before=100)
        assert await _stream(store, "life-l") == [6]
        assert await store.stream_version("life-l") == 6
        with pytest.raises(ValidationError):
            await store.truncate_stream("life-m")  # no snapshot to cut at

    @pytest.mark.asyncio
    async def test_retention_by_count_and_by_age(self, store: EventStore) -> None:
        await _filled(store, "life-n", 5)
        await store.set_stream_retention("life-n", max_count=2)
        old = [copied("life-o", version, n=version) for version in (1, 2, 3)]
        await store.import_events(old)  # recorded in 2020
        await store.append("life-o", [_new(4), _new(5)], expected=3)
        await store.set_stream_retention("life-o", max_age=timedelta(days=1))
        await _filled(store, "life-p", 2)  # no retention
        retained = await store.retained_streams()
        assert [(s.stream, s.max_count, s.max_age) for s in retained] == [
            ("life-n", 2, None),
            ("life-o", None, timedelta(days=1)),
        ]
        for state in retained:
            assert await store.enforce_retention(state) is not None
        assert await _stream(store, "life-n") == [4, 5]
        assert (await store.append("life-n", [_new(6)], expected=5)).version == 6
        assert await _stream(store, "life-o") == [4, 5]
        for state in await store.retained_streams():
            if state.stream == "life-n":  # one event more than its max count now
                assert await store.enforce_retention(state) is not None
            else:
                assert await store.enforce_retention(state) is None  # within its limits
        assert await _stream(store, "life-n") == [5, 6]
        with pytest.raises(ValidationError):
            await store.set_stream_retention("life-n", max_count=0)
        with pytest.raises(ValidationError):
            await store.set_stream_retention("life-n", max_age=timedelta(0))

    @pytest.mark.asyncio
    async def test_max_age_keeps_the_newest_event_when_all_are_too_old(
        self, store: EventStore
    ) -> None:
        await store.import_events([copied("life-q", v, n=v) for v in (1, 2, 3)])
        await store.set_stream_retention("life-q", max_age=timedelta(hours=1))
        (state,) = [s for s in await store.retained_streams() if s.stream == "life-q"]
        await store.enforce_retention(state, now=datetime.now(UTC))
        assert await _stream(store, "life-q") == [3]

    @pytest.mark.asyncio
    async def test_a_purged_stream_comes_back_exactly_by_import(self, store: EventStore) -> None:
        original = await _filled(store, "life-r", 3)
        result = await store.purge_stream("life-r")
        assert result is not None
        assert await _stream(store, "life-r") == []
        assert await store.stream_version("life-r") == 0
        (marker,) = await _all(store, types=[STREAM_ARCHIVED])
        assert (marker.stream, marker.data["version"]) == ("$$life-r", 3)
        await store.import_events(original)
        back = [e async for e in store.read_stream("life-r")]
        kept = [(e.id, e.version, e.type, e.data, e.metadata, e.recorded_at) for e in back]
        assert kept == [
            (e.id, e.version, e.type, e.data, e.metadata, e.recorded_at) for e in original
        ]
        assert all(e.position > marker.position for e in back)
        assert await store.purge_stream("life-never") is None

    @pytest.mark.asyncio
    async def test_bad_lifecycle_input_is_refused(self, store: EventStore) -> None:
        with pytest.raises(ValidationError):
            await store.truncate_stream("life-s", before=0)
        with pytest.raises(ValidationError):
            await store.delete_stream("", expected=NO_STREAM)
        with pytest.raises(ValidationError):
            await store.delete_stream("life-s", expected="two")  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            await store.set_stream_retention("life-s", max_age=60)  # type: ignore[arg-type]
