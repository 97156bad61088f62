"""The event store on a NATS JetStream stream, replicated with Raft.

One JetStream stream holds every event; its sequence is the global position. An append
is one atomic batch (ADR-50): first one id marker per event (`<S>.i.<event id>`, each
expecting its subject to be empty, which makes event ids unique), then the events on
their stream's subject, the first one expecting the stream subject's last sequence that
the append read (optimistic concurrency). Versions are counted by the client from that
read; the expectation guarantees that nothing came in between. A deleted stream has a
fence on top of its subject (`codec`), so the same read and expectation refuse appends
to it; the lifecycle itself is in `lifecycle`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Self
from uuid import UUID

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventbook._backends.nats import codec
from eventbook._backends.nats.batches import Conflict, Message, expecting, send_batch
from eventbook._backends.nats.direct import DirectReader, sequence_of
from eventbook._backends.nats.lifecycle import NatsLifecycle
from eventbook._backends.nats.options import NatsOptions, parse_url
from eventbook._backends.nats.parts import StoreParts
from eventbook._backends.nats.replays import REPLAY_PAUSES, Found, partly_seen_copy
from eventbook._backends.nats.retry import retrying
from eventbook._backends.nats.setup import ensure_streams, open_client
from eventbook._backends.nats.stream_reads import (
    EMPTY,
    SubjectHead,
    direct_head,
    events_from,
    leader_head,
    sequence_of_version,
)
from eventbook._backends.nats.subjects import Subjects
from eventbook._errors import ConcurrencyError, StreamDeleted, ValidationError
from eventbook._store.encoding import expected_number
from eventbook._store.idempotency import StoredEvent, replayed_result
from eventbook._store.lifecycle import StreamMarks, StreamState, check_writable
from eventbook._store.port import EventStore
from eventbook._store.signal import Wakeup
from eventbook._store.types import (
    NO_STREAM,
    AppendResult,
    EncodedBatch,
    EventFilter,
    Expected,
    Position,
    RecordedEvent,
    Snapshot,
)


class NatsEventStore(EventStore):
    """Open with `await NatsEventStore.open("nats://h1:4222,h2:4222,h3:4222?stream=EVENTS")`."""

    def __init__(self, client: Client, options: NatsOptions) -> None:
        super().__init__()
        self.options = options
        self.read_page_size = options.read_page_size
        self.poll_interval = options.poll_interval
        self._client = client
        self._js = client.jetstream(timeout=options.request_timeout)
        self._subjects = Subjects(options.stream)
        self._events = DirectReader(
            client, options.stream, self._subjects.events_all, options.request_timeout
        )
        self._snapshots = DirectReader(
            client,
            self._subjects.snapshot_stream,
            self._subjects.snapshots_all,
            options.request_timeout,
        )
        parts = StoreParts(client, self._js, self._subjects, self._events, self._snapshots, options)
        self._lifecycle = NatsLifecycle(parts, self._stored_event)
        self._wakeup = Wakeup()
        self._listener: Subscription | None = None

    @classmethod
    async def open(cls, url: str, **options: Any) -> Self:
        servers, parsed = parse_url(url, **options)
        client = await open_client(servers, parsed)
        store = cls(client, parsed)
        try:
            store._lifecycle.can_purge = await retrying(
                "creating the streams",
                parsed.retry_for,
                lambda: ensure_streams(store._js, store._subjects, parsed),
            )
            await store._events.start()
            await store._snapshots.start()
            store._listener = await client.subscribe(store._subjects.appended, cb=store._heard)
        except BaseException:
            await client.close()
            raise
        return store

    # -- appending ------------------------------------------------------------------------

    async def _append(self, batch: EncodedBatch) -> AppendResult:
        most = self.options.max_batch_size // 2
        if len(batch.events) > most:
            raise ValidationError(
                f"an append to the NATS store takes at most {most} events (half the servers'"
                f" max_batch_size), not {len(batch.events)}"
            )
        subject = self._subjects.events(batch.stream)

        async def attempt() -> AppendResult:
            # A new stream needs no read: expecting "no message on the subject" checks it.
            guess_new = batch.expected is NO_STREAM or batch.expected == 0
            from_leader = False
            while True:  # a conflict means: read the stream again at once
                if guess_new:
                    head = EMPTY
                elif from_leader:
                    head = await leader_head(self._events, subject)
                else:
                    head = await direct_head(self._events, subject)
                guess_new = False
                try:
                    restarted = check_writable(batch, head.marks(), head.version)
                except (ConcurrencyError, StreamDeleted):
                    if not from_leader:
                        # A replica can answer from before another store's append or this
                        # store's removal (`leader`): only the leader's answer may refuse.
                        from_leader = True
                        continue
                    replay = await self._replay(batch)
                    if replay is not None:
                        return replay
                    raise
                try:
                    restart = (
                        await self._lifecycle.restart_marks(batch.stream, from_leader)
                        if restarted
                        else []
                    )
                    return await self._publish(batch, subject, head, restart)
                except Conflict:
                    from_leader = True
                    replay = await self._replay(batch)
                    if replay is not None:
                        return replay

        # After an outage the next attempt reads the stream again, and either appends, refuses
        # with ConcurrencyError, or finds its own events stored (then it returns the original
        # result): an append whose reply was lost lands once.
        result = await retrying("append", self.options.retry_for, attempt)
        await self._appended()
        return result

    async def _appended(self) -> None:
        self._wakeup.notify()
        # Tell other stores; a lost notification (a connection going away) only delays them
        # to their next poll.
        with contextlib.suppress(Exception):
            await self._client.publish(self._subjects.appended, b"")

    async def _publish(
        self, batch: EncodedBatch, subject: str, head: SubjectHead, first: list[Message]
    ) -> AppendResult:
        count = len(batch.events)
        # `first` goes before the id markers, which lie `count` sequences before their events.
        messages = [
            *first,
            *(
                (self._subjects.event_id(event.id.hex), codec.marker_body(count), expecting(0))
                for event in batch.events
            ),
        ]
        for offset, event in enumerate(batch.events):
            headers = expecting(head.sequence) if offset == 0 else {}
            body = codec.event_body(event, batch.stream, head.version + offset + 1)
            messages.append((subject, body, headers))
        sequence = await send_batch(self._client, messages, self.options.request_timeout)
        self._events.wrote(subject, sequence)
        return AppendResult(head.version + count, Position(0, sequence))

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        # The port's default import (check every stream, then append run by run, in order)
        # with runs cut to what one atomic batch takes; `recorded_at` rides in the body.
        most = self.options.max_batch_size // 2
        pieces: list[EncodedBatch] = []
        for batch in batches:
            before = expected_number(batch.expected)
            for start in range(0, len(batch.events), most):
                part = batch.events[start : start + most]
                expected = batch.expected if start == 0 else before + start
                pieces.append(EncodedBatch(batch.stream, expected, part))
        await super()._import(pieces)

    async def _replay(self, batch: EncodedBatch) -> AppendResult | None:
        """The original result when some of the batch's ids are stored (or an error)."""
        found = await self._stored_ids(batch)
        for pause in REPLAY_PAUSES:
            if not partly_seen_copy(batch, found):
                break
            # Maybe the leader applied this very batch between two of the lookups (`replays`).
            await asyncio.sleep(pause)
            found = await self._stored_ids(batch)
        if not found:
            return None
        stored = sorted((e for e, _ in found), key=lambda e: e.version)
        return replayed_result(
            batch,
            [StoredEvent(e.id, e.stream, e.version, e.position, e.type, e.data) for e in stored],
        )

    async def _stored_ids(self, batch: EncodedBatch) -> list[Found]:
        """The stored events with the batch's ids, each with its batch's size."""
        found = await asyncio.gather(*(self._stored_with_size(e.id) for e in batch.events))
        return [f for f in found if f is not None]

    async def _stored_event(self, event_id: UUID) -> RecordedEvent | None:
        found = await self._stored_with_size(event_id)
        return None if found is None else found[0]

    async def _stored_with_size(self, event_id: UUID) -> Found | None:
        # From the leader: a replica may not have applied the batch that stored the id (a
        # retry would be refused as a duplicate, a read miss this store's own append), nor
        # the purge that removed it (a retry would be answered with removed events).
        leader = self._events.leader
        marker = await leader.last(self._subjects.event_id(event_id.hex))
        if marker is None:
            return None
        size = codec.read_marker(marker).n
        event = await leader.at(sequence_of(marker) + size)
        # No event: it was removed (tombstone, truncation, archive) and its marker is about
        # to be, or was left by a removal that was cut short.
        return None if event is None else (codec.recorded_event(event), size)

    # -- reading --------------------------------------------------------------------------

    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]:
        subject = self._subjects.events(stream)

        async def forwards(first: int, count: int) -> list[RecordedEvent]:
            start = 1 if first == 1 else await sequence_of_version(self._events, subject, first)
            if start is None:
                return []
            return await events_from(self._events, subject, start, count)

        async def attempt() -> list[RecordedEvent]:
            # The marks come with the first read, not before it: most streams have none.
            if not backwards:
                wanted = from_version or 1
                marks, page = await asyncio.gather(
                    self._lifecycle.marks(stream), forwards(wanted, limit)
                )
                if marks is None:
                    return page
                if marks.deleted or marks.tombstoned:
                    return []
                if not page or page[0].version >= marks.first_version:
                    return page  # (events below a truncation are purged)
                return await forwards(marks.first_version, limit)  # a restarted history
            marks, last = await asyncio.gather(
                self._lifecycle.marks(stream), self._events.last(subject)
            )
            if last is None or (marks is not None and (marks.deleted or marks.tombstoned)):
                return []
            top = codec.version_of(last)
            if from_version is not None:
                top = min(top, from_version)
            bottom = max(1 if marks is None else marks.first_version, top - limit + 1)
            if top < bottom:
                return []
            return (await forwards(bottom, top - bottom + 1))[::-1]

        return await retrying("read_stream", self.options.retry_for, attempt)

    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]:
        if after is not None and after.major != 0:
            raise ValidationError(f"position {after} does not come from a NATS store")
        categories = wanted.categories
        subject = (
            self._subjects.category(next(iter(categories)))
            if categories is not None and len(categories) == 1
            else self._subjects.events_all
        )

        async def attempt() -> list[RecordedEvent]:
            page: list[RecordedEvent] = []
            start = 1 if after is None else after.minor + 1
            while len(page) < limit:
                messages = await self._events.page(subject, start, limit)
                events = (codec.recorded_event(m) for m in messages if not codec.is_fence(m))
                page.extend(e for e in events if wanted.matches(e))
                if len(messages) < limit:
                    break
                start = sequence_of(messages[-1]) + 1
            return page[:limit]

        return await retrying("read_all", self.options.retry_for, attempt)

    async def _read_event(self, event_id: UUID) -> RecordedEvent | None:
        return await retrying(
            "read_event", self.options.retry_for, lambda: self._stored_event(event_id)
        )

    async def _stream_version(self, stream: str) -> int:
        async def attempt() -> int:
            head = await direct_head(self._events, self._subjects.events(stream))
            # A tombstone's fence keeps the last version for the marks; no event is left.
            return 0 if head.fence is not None and head.fence.tombstoned else head.version

        return await retrying("stream_version", self.options.retry_for, attempt)

    def _position_fits(self, position: Position) -> bool:
        return position.major == 0  # one sequence: the JetStream stream sequence

    async def head(self) -> Position | None:
        self._check_open()

        async def attempt() -> Position | None:
            last = await self._events.last(self._subjects.events_all)
            return None if last is None else Position(0, sequence_of(last))

        return await retrying("head", self.options.retry_for, attempt)

    # -- snapshots ------------------------------------------------------------------------

    async def _save_snapshot(self, stream: str, version: int, schema: str, state: bytes) -> None:
        subject = self._subjects.snapshots(stream, schema)
        body = codec.snapshot_body(version, state)

        async def attempt() -> None:
            ack = await self._js.publish(subject, body, timeout=self.options.request_timeout)
            self._snapshots.wrote(subject, ack.seq)  # a load must find it (`direct`)

        await retrying("save_snapshot", self.options.retry_for, attempt)

    async def _load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> Snapshot | None:
        subject = self._subjects.snapshots(stream, schema)
        kept = self.options.snapshots_kept

        async def attempt() -> Snapshot | None:
            best: Msg | None = None
            for message in await self._snapshots.page(subject, 1, kept * 4):
                version = codec.snapshot_version(message)
                if max_version is not None and version > max_version:
                    continue
                if best is None or version >= codec.snapshot_version(best):
                    best = message  # a later save of the same version replaces an earlier
            return None if best is None else codec.snapshot(best, stream, schema)

        return await retrying("load_snapshot", self.options.retry_for, attempt)

    # -- stream lifecycle (lifecycle.py) ----------------------------------------------------

    async def _stream_marks(self, stream: str) -> StreamMarks | None:
        return await retrying(
            "stream_state", self.options.retry_for, lambda: self._lifecycle.marks(stream)
        )

    async def _delete_stream(self, stream: str, expected: Expected, hard: bool) -> AppendResult:
        result = await self._lifecycle.delete(stream, expected, hard)
        await self._appended()
        return result

    async def _truncate_stream(self, stream: str, before: int) -> AppendResult | None:
        result = await self._lifecycle.truncate(stream, before)
        if result is not None:
            await self._appended()
        return result

    async def _purge_stream(self, stream: str) -> AppendResult | None:
        result = await self._lifecycle.purge(stream)
        if result is not None:
            await self._appended()
        return result

    async def _set_retention(
        self, stream: str, max_count: int | None, max_age_seconds: float | None
    ) -> None:
        await self._lifecycle.set_retention(stream, max_count, max_age_seconds)

    async def _retained_streams(self) -> list[StreamState]:
        return await self._lifecycle.retained()

    async def _newest_snapshot_version(self, stream: str) -> int | None:
        return await self._lifecycle.newest_snapshot_version(stream)

    # -- waking readers ---------------------------------------------------------------------

    @property
    def append_signal(self) -> Wakeup:
        return self._wakeup

    async def _heard(self, _message: Msg) -> None:
        self._wakeup.notify()

    async def _close(self) -> None:
        self._wakeup.notify()
        await self._client.close()
