"""An in-process event store for unit tests of user code. Nothing is persisted."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from eventbook._errors import ValidationError
from eventbook._store.encoding import decode_object, expected_number, import_refused
from eventbook._store.idempotency import StoredEvent, replayed_result
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    StreamMarks,
    StreamState,
    check_writable,
    marker_batch,
    plan_delete,
    plan_purge,
    plan_truncate,
    refuse_deleted,
    state_of,
)
from eventbook._store.port import EventStore
from eventbook._store.signal import Wakeup
from eventbook._store.types import (
    AppendResult,
    EncodedBatch,
    EventFilter,
    Expected,
    Position,
    RecordedEvent,
    Snapshot,
)


class MemoryEventStore(EventStore):
    """Keeps events in lists. Appends are atomic because they never await."""

    poll_interval = 5.0  # every append wakes subscribers directly

    def __init__(self) -> None:
        super().__init__()
        self._log: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[UUID, RecordedEvent] = {}
        self._snapshots: dict[tuple[str, str], dict[int, Snapshot]] = {}
        self._marks: dict[str, StreamMarks] = {}
        self._last_position = 0  # positions of removed events are never handed out again
        self._wakeup = Wakeup()

    async def _append(self, batch: EncodedBatch) -> AppendResult:
        known = [self._by_id[e.id] for e in batch.events if e.id in self._by_id]
        if known:
            known.sort(key=lambda e: e.position)
            return replayed_result(
                batch,
                [StoredEvent(e.id, e.stream, e.version, e.position, e.type, e.data) for e in known],
            )
        stream = self._streams.get(batch.stream, [])
        version = self._version(batch.stream)
        marks = self._marks.get(batch.stream)
        if check_writable(batch, marks, version) and marks is not None:
            marks.deleted = False
        now = datetime.now(UTC)
        recorded = [
            RecordedEvent(
                id=event.id,
                stream=batch.stream,
                version=version + offset,
                position=Position(0, self._last_position + offset),
                type=event.type,
                data=decode_object(event.data),
                metadata=decode_object(event.metadata),
                recorded_at=event.recorded_at or now,
            )
            for offset, event in enumerate(batch.events, start=1)
        ]
        # In place: an append must not copy its whole stream.
        self._streams.setdefault(batch.stream, stream).extend(recorded)
        self._log.extend(recorded)
        self._last_position += len(recorded)
        self._by_id.update((e.id, e) for e in recorded)
        self._wakeup.notify()
        last = recorded[-1]
        return AppendResult(last.version, last.position)

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        # Checked whole before any write, and no await in between: all or nothing.
        versions: dict[str, int] = {}
        for batch in batches:
            refuse_deleted(batch.stream, self._marks.get(batch.stream))
            current = versions.get(batch.stream, self._version(batch.stream))
            wanted = expected_number(batch.expected)
            if current != wanted:
                raise import_refused(batch.stream, current, wanted)
            versions[batch.stream] = current + len(batch.events)
        for event in (e for batch in batches for e in batch.events):
            if event.id in self._by_id:
                raise ValidationError(f"cannot import event {event.id}: that id is stored already")
        for batch in batches:
            await self._append(batch)

    async def _list_streams(self, category: str | None) -> list[StreamInfo]:
        return [
            StreamInfo(
                name,
                events[-1].version,
                sum(len(_encode(e.data)) + len(_encode(e.metadata)) for e in events),
                events[-1].position,
                events[-1].recorded_at,
            )
            for name, events in sorted(self._streams.items())
            if category is None or events[0].category == category
        ]

    async def _stats(self) -> StoreStats:
        per_type: dict[str, int] = {}
        for event in self._log:
            per_type[event.type] = per_type.get(event.type, 0) + 1
        return StoreStats(len(self._log), len(self._streams), None, per_type)

    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]:
        events = self._streams.get(stream, [])
        if not events:
            return []
        base = events[0].version  # the first version still held
        marks = self._marks.get(stream)
        lowest = max(base, marks.first_version if marks else 1) - base  # index of first visible
        if backwards:
            end = len(events) if from_version is None else min(from_version - base + 1, len(events))
            return events[max(lowest, end - limit) : max(lowest, end)][::-1]
        start = lowest if from_version is None else max(lowest, from_version - base)
        return events[start : start + limit]

    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]:
        if after is not None and after.major != 0:  # one sequence here, as on SQLite
            raise ValidationError(f"position {after} does not come from a memory store")
        start = 0 if after is None else bisect.bisect_right(self._log, after, key=_position)
        if wanted.types is None and wanted.categories is None:
            return self._log[start : start + limit]
        page: list[RecordedEvent] = []
        for index in range(start, len(self._log)):  # no copy of the rest of the log
            event = self._log[index]
            if wanted.matches(event):
                page.append(event)
                if len(page) == limit:
                    break
        return page

    async def _read_event(self, event_id: UUID) -> RecordedEvent | None:
        return self._by_id.get(event_id)

    async def _save_snapshot(self, stream: str, version: int, schema: str, state: bytes) -> None:
        taken = Snapshot(stream, version, schema, decode_object(state), datetime.now(UTC))
        self._snapshots.setdefault((stream, schema), {})[version] = taken

    async def _load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> Snapshot | None:
        kept = self._snapshots.get((stream, schema), {})
        usable = [v for v in kept if max_version is None or v <= max_version]
        return kept[max(usable)] if usable else None

    async def _stream_version(self, stream: str) -> int:
        events = self._streams.get(stream)
        return events[-1].version if events else 0

    def _version(self, stream: str) -> int:
        """The last version written, also of a stream whose events were all removed."""
        events = self._streams.get(stream)
        if events:
            return events[-1].version
        marks = self._marks.get(stream)
        return marks.last_version if marks else 0

    # -- lifecycle: no await between check and change, so each is atomic ---------------

    async def _stream_marks(self, stream: str) -> StreamMarks | None:
        marks = self._marks.get(stream)
        return None if marks is None else msgspec.structs.replace(marks)

    async def _delete_stream(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        version = self._version(stream)
        self._marks[stream] = plan_delete(stream, expected, hard, version, self._marks.get(stream))
        if hard:
            self._remove(stream, version + 1)
        return await self._append(marker_batch(STREAM_DELETED, stream, version=version, hard=hard))

    async def _truncate_stream(self, stream: str, before: int) -> AppendResult | None:
        marks = plan_truncate(stream, before, self._version(stream), self._marks.get(stream))
        if marks is None:
            return None
        self._marks[stream] = marks
        self._remove(stream, marks.first_version)
        return await self._append(
            marker_batch(STREAM_TRUNCATED, stream, before=marks.first_version)
        )

    async def _purge_stream(self, stream: str) -> AppendResult | None:
        version = self._version(stream)
        if not plan_purge(stream, version, self._marks.get(stream)):
            return None
        self._remove(stream, version + 1)
        self._marks.pop(stream, None)
        return await self._append(marker_batch(STREAM_ARCHIVED, stream, version=version))

    async def _set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        marks = self._marks.setdefault(stream, StreamMarks())
        marks.max_count, marks.max_age_seconds = max_count, max_age_seconds

    async def _retained_streams(self) -> list[StreamState]:
        return [
            state_of(name, self._version(name), marks)
            for name, marks in sorted(self._marks.items())
            if (marks.max_count or marks.max_age_seconds)
            and not (marks.deleted or marks.tombstoned)
            and self._version(name) > 0
        ]

    async def _newest_snapshot_version(self, stream: str) -> int | None:
        kept = [v for (name, _), taken in self._snapshots.items() if name == stream for v in taken]
        return max(kept, default=None)

    def _remove(self, stream: str, before: int) -> None:
        """Remove the stream's events below `before` and the snapshots they make useless:
        all of them when no event is left, else those below the cut but the newest."""
        events = self._streams.get(stream, [])
        gone = [e for e in events if e.version < before]
        if not gone:
            return
        kept = events[len(gone) :]
        if kept:
            self._streams[stream] = kept
        else:
            self._streams.pop(stream, None)
        gone_ids = {e.id for e in gone}
        self._log = [e for e in self._log if e.id not in gone_ids]
        for event_id in gone_ids:
            del self._by_id[event_id]
        for (name, schema), taken in list(self._snapshots.items()):
            if name != stream:
                continue
            newest = max(taken)
            for version in [v for v in taken if not kept or (v < before - 1 and v != newest)]:
                del taken[version]
            if not taken:
                del self._snapshots[(name, schema)]

    def _position_fits(self, position: Position) -> bool:
        return position.major == 0  # one sequence, counted from 1

    async def head(self) -> Position | None:
        self._check_open()
        return self._log[-1].position if self._log else None

    @property
    def append_signal(self) -> Wakeup:
        return self._wakeup

    async def _close(self) -> None:
        self._wakeup.notify()  # let waiting subscribers see that the store closed


_encode = msgspec.json.encode


def _position(event: RecordedEvent) -> Position:
    return event.position
