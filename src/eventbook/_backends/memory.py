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
from eventbook._store.port import EventStore
from eventbook._store.signal import Wakeup
from eventbook._store.types import (
    AppendResult,
    EncodedBatch,
    EventFilter,
    Position,
    RecordedEvent,
    Snapshot,
    check_expected,
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
        check_expected(batch.stream, batch.expected, len(stream))
        now = datetime.now(UTC)
        recorded = [
            RecordedEvent(
                id=event.id,
                stream=batch.stream,
                version=len(stream) + offset,
                position=Position(0, len(self._log) + offset),
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
        self._by_id.update((e.id, e) for e in recorded)
        self._wakeup.notify()
        last = recorded[-1]
        return AppendResult(last.version, last.position)

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        # Checked whole before any write, and no await in between: all or nothing.
        versions: dict[str, int] = {}
        for batch in batches:
            current = versions.get(batch.stream, len(self._streams.get(batch.stream, ())))
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
                len(events),
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
        if backwards:
            end = len(events) if from_version is None else min(from_version, len(events))
            return events[max(0, end - limit) : end][::-1]
        start = 0 if from_version is None else from_version - 1
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
        return len(self._streams.get(stream, ()))

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
