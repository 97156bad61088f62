"""The stream lifecycle on JetStream: marks, fences and system events in one atomic batch.

Each change is one batch: the stream's new marks on its marks subject (expecting the
marks read, so changes never overwrite each other), for a deletion or an archive a fence
on the stream's own subject (expecting the subject's last sequence, as an append does, so
no append slips in between the check and the change, and appends after it see the
fence), and the system event in `$$<stream>` with its id marker. What the change removes
is purged afterwards (`removal`); the batch already hides it from `read_stream`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple
from uuid import UUID

import msgspec

from eventbook._backends.nats import codec
from eventbook._backends.nats.batches import Conflict, Message, expecting, send_batch
from eventbook._backends.nats.parts import StoreParts
from eventbook._backends.nats.removal import Removal
from eventbook._backends.nats.retry import retrying
from eventbook._backends.nats.stream_reads import (
    SubjectHead,
    direct_head,
    last_marks,
    leader_head,
    sequence_of_version,
)
from eventbook._errors import ConcurrencyError, NotSupported, StreamDeleted, StreamNotFound
from eventbook._store.encoding import encode_object
from eventbook._store.ids import uuid7
from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    StreamMarks,
    StreamState,
    metadata_stream,
    plan_delete,
    plan_purge,
    plan_truncate,
    state_of,
)
from eventbook._store.types import (
    AppendResult,
    EncodedEvent,
    Expected,
    Position,
    RecordedEvent,
)


class Change(NamedTuple):
    marks: StreamMarks
    fence: bytes | None
    event_type: str
    data: dict[str, object]


Plan = Callable[[StreamMarks | None, int], Change | None]
"""Given a stream's marks and last version: the change to write, or None for none."""

StoredEvent = Callable[[UUID], Awaitable[RecordedEvent | None]]


class NatsLifecycle:
    """The lifecycle operations of one `NatsEventStore`."""

    def __init__(self, parts: StoreParts, stored_event: StoredEvent) -> None:
        self._client = parts.client
        self._subjects = parts.subjects
        self._events = parts.events
        self._options = parts.options
        self._stored_event = stored_event
        self.can_purge = True
        self.removal = Removal(parts)

    async def marks(self, stream: str) -> StreamMarks | None:
        _, marks = await last_marks(self._events, self._subjects.marks(stream), leader=False)
        return marks

    async def restart_marks(self, stream: str, leader: bool) -> list[Message]:
        """The marks message that clears a deleted stream's `deleted` mark, in the batch
        that starts its new history (the fence's expectation already orders it)."""
        subject = self._subjects.marks(stream)
        sequence, marks = await last_marks(self._events, subject, leader=leader)
        cleared = msgspec.structs.replace(marks or StreamMarks(), deleted=False)
        return [(subject, codec.marks_body(cleared), expecting(sequence))]

    # -- changes ----------------------------------------------------------------------------

    async def delete(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        def plan(marks: StreamMarks | None, version: int) -> Change:
            new = plan_delete(stream, expected, hard, version, marks)
            fence = codec.fence_body(version, deleted=not hard, tombstoned=hard)
            return Change(new, fence, STREAM_DELETED, {"version": version, "hard": hard})

        result = await self._change(stream, plan, fenced=True)
        assert result is not None  # a deletion always writes
        if hard and self.can_purge:  # with deny_purge a tombstone hides, removes nothing
            fence = result.position.minor - 2

            async def remove() -> None:
                await self.removal.events_below(self._subjects.events(stream), fence)
                await self.removal.all_snapshots(stream)

            await self._removing(remove)
        return result

    async def truncate(self, stream: str, before: int) -> AppendResult | None:
        self._need_purge("truncate streams (truncate_stream, retention)")

        def plan(marks: StreamMarks | None, version: int) -> Change | None:
            new = plan_truncate(stream, before, version, marks)
            if new is None:
                return None
            return Change(new, None, STREAM_TRUNCATED, {"before": new.first_version})

        result = await self._change(stream, plan, fenced=False)
        if result is None:
            return None

        async def remove() -> None:
            marks = await self.marks(stream)
            cut = before if marks is None else marks.first_version
            subject = self._subjects.events(stream)
            first_kept = await sequence_of_version(self._events, subject, cut)
            if first_kept is not None:
                await self.removal.events_below(subject, first_kept)
            await self.removal.snapshots_before(stream, cut)

        await self._removing(remove)
        return result

    async def purge(self, stream: str) -> AppendResult | None:
        self._need_purge("purge streams (purge_stream, eventbook archive)")

        def plan(marks: StreamMarks | None, version: int) -> Change | None:
            if not plan_purge(stream, version, marks):
                return None
            # Until its subject is purged the stream reads and writes as deleted.
            gone = msgspec.structs.replace(
                marks or StreamMarks(),
                first_version=version + 1,
                last_version=version,
                deleted=True,
            )
            fence = codec.fence_body(version, deleted=True)
            return Change(gone, fence, STREAM_ARCHIVED, {"version": version})

        result = await self._change(stream, plan, fenced=True)
        if result is None:
            return None
        last = result.position.minor  # [marks, fence, id marker, event]

        async def remove() -> None:
            await self.removal.events_below(self._subjects.events(stream), last - 1)
            await self.removal.marks_below(self._subjects.marks(stream), last - 2)
            await self.removal.all_snapshots(stream)

        await self._removing(remove)
        return result

    async def set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        subject = self._subjects.marks(stream)

        async def attempt() -> None:
            leader = False
            while True:
                sequence, marks = await last_marks(self._events, subject, leader=leader)
                new = msgspec.structs.replace(
                    marks or StreamMarks(), max_count=max_count, max_age_seconds=max_age_seconds
                )
                message = (subject, codec.marks_body(new), expecting(sequence))
                try:
                    written = await self._send([message])
                except Conflict:
                    leader = True
                    continue
                self._events.wrote(subject, written)
                return

        await retrying("set_stream_retention", self._options.retry_for, attempt)

    async def retained(self) -> list[StreamState]:
        async def attempt() -> list[StreamState]:
            found = []
            for subject in await self.removal.subjects(
                self._options.stream, self._subjects.marks_all
            ):
                stream = self._subjects.stream_of(subject)
                marks = await self.marks(stream)
                if marks is None or marks.deleted or marks.tombstoned:
                    continue
                if marks.max_count is None and marks.max_age_seconds is None:
                    continue
                head = await direct_head(self._events, self._subjects.events(stream))
                if head.version > 0:
                    found.append(state_of(stream, head.version, marks))
            return sorted(found, key=lambda state: state.stream)

        return await retrying("retained_streams", self._options.retry_for, attempt)

    async def newest_snapshot_version(self, stream: str) -> int | None:
        return await retrying(
            "truncate_stream",
            self._options.retry_for,
            lambda: self.removal.newest_snapshot(stream),
        )

    # -- one change: marks, fence, system event -----------------------------------------------

    async def _change(self, stream: str, plan: Plan, *, fenced: bool) -> AppendResult | None:
        """Write the change `plan` makes, once, riding out conflicts and outages."""
        event_id = uuid7()  # kept over retries: a lost reply is told by this id
        subject = self._subjects.events(stream)
        marks_subject = self._subjects.marks(stream)
        system = metadata_stream(stream)
        system_subject = self._subjects.events(system)
        tries = 0

        async def attempt() -> AppendResult | None:
            nonlocal tries
            leader = False
            while True:
                tries += 1
                if tries > 1:
                    stored = await self._stored_event(event_id)
                    if stored is not None:
                        return AppendResult(stored.version, stored.position)
                head, system_head = await self._heads(subject, system_subject, leader)
                marks_at, marks = await last_marks(self._events, marks_subject, leader=leader)
                version = max(head.version, marks.last_version if marks else 0)
                try:
                    change = plan(marks, version)
                except (ConcurrencyError, StreamDeleted, StreamNotFound):
                    if leader:
                        raise
                    change = None
                if change is None:
                    if leader:
                        return None
                    # A replica may not have applied another store's last write (`leader`):
                    # only the leader's answer may refuse a change or find nothing to do.
                    leader = True
                    continue
                messages: list[Message] = [
                    (marks_subject, codec.marks_body(change.marks), expecting(marks_at))
                ]
                if fenced:
                    assert change.fence is not None
                    fence_headers = expecting(head.sequence, **{codec.FENCE: "1"})
                    messages.append((subject, change.fence, fence_headers))
                event = EncodedEvent(
                    event_id,
                    change.event_type,
                    encode_object("marker", {"stream": stream, **change.data}),
                    b"{}",
                    None,
                )
                messages += [
                    (self._subjects.event_id(event_id.hex), codec.marker_body(1), expecting(0)),
                    (
                        system_subject,
                        codec.event_body(event, system, system_head.version + 1),
                        expecting(system_head.sequence),
                    ),
                ]
                try:
                    last = await self._send(messages)
                except Conflict:
                    leader = True
                    continue
                self._events.wrote(marks_subject, last - len(messages) + 1)
                if fenced:
                    self._events.wrote(subject, last - 2)
                self._events.wrote(system_subject, last)
                return AppendResult(system_head.version + 1, Position(0, last))

        return await retrying("stream lifecycle change", self._options.retry_for, attempt)

    async def _heads(
        self, subject: str, system_subject: str, leader: bool
    ) -> tuple[SubjectHead, SubjectHead]:
        if leader:
            return (
                await leader_head(self._events, subject),
                await leader_head(self._events, system_subject),
            )
        return (
            await direct_head(self._events, subject),
            await direct_head(self._events, system_subject),
        )

    async def _removing(self, remove: Callable[[], Awaitable[None]]) -> None:
        # Purges are idempotent: after an outage the whole removal simply runs again.
        await retrying("removing events", self._options.retry_for, remove)

    async def _send(self, messages: list[Message]) -> int:
        return await send_batch(self._client, messages, self._options.request_timeout)

    def _need_purge(self, what: str) -> None:
        if not self.can_purge:
            raise NotSupported(
                f"the NATS store cannot {what}: its JetStream stream"
                f" {self._options.stream!r} was created with deny_purge, which no stream"
                " update can lift; copy the store into a new stream (eventbook copy) to"
                " get one without it"
            )
