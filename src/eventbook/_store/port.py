"""The event-store port: the contract every backend keeps.

Backends subclass `EventStore` and implement a handful of page-sized primitives
(`_append`, `_read_stream_page`, `_read_all_page`, ...) and one public property,
`append_signal`; the public iterators, subscriptions and input validation live here
once, so every backend behaves alike. The value types are in `eventbook._store.types`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from typing import Any, Self
from uuid import UUID

import msgspec

from eventbook._errors import (
    ConcurrencyError,
    NotSupported,
    StoreClosed,
    ValidationError,
)
from eventbook._store.encoding import (
    check_limit,
    check_name,
    check_position,
    check_stream_name,
    check_version,
    encode_batch,
    encode_import,
    encode_object,
    event_filter,
    expected_number,
    import_refused,
)
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.lifecycle import check_not_system
from eventbook._store.lifecycle_port import StreamLifecycle
from eventbook._store.paging import PageTimes, stream_pages
from eventbook._store.signal import AppendSignal
from eventbook._store.types import (
    ANY,
    AppendResult,
    EncodedBatch,
    EventFilter,
    Expected,
    NewEvent,
    Position,
    RecordedEvent,
    ReplayRecord,
    Snapshot,
)

__all__ = ["EventStore"]

Replayed = list[RecordedEvent] | list[ReplayRecord]


class EventStore(StreamLifecycle):
    """The event-store port.

    Use it as an async context manager, or call `close()` when done.
    """

    read_page_size = 1000
    """How many events the iterators fetch per round trip."""

    _page_times: PageTimes | None = None
    """Where each stream page's read time goes (set by `eventbook.observability`; see
    `paging.stream_pages`)."""

    poll_interval = 0.5
    """How long a caught-up subscription waits before it looks again without a wake-up."""

    def __init__(self) -> None:
        self._closed = False

    # -- the public contract -------------------------------------------------------------

    async def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected: Expected = ANY,
        *,
        restart: bool = False,
    ) -> AppendResult:
        """Append `events` to `stream` atomically if the stream matches `expected`.

        Raises `ConcurrencyError` (nothing written) when it does not, `ValidationError` for
        bad input, and `DuplicateEventError` when an event id is stored already and the
        batch is not an exact retry of the stored one (an exact retry returns the
        original result).

        A deleted stream (`delete_stream`) refuses appends with `StreamDeleted` unless
        `restart` is True: that starts a new history, its versions following the deleted
        ones; it may expect `NO_STREAM`. A tombstoned stream refuses every append.
        """
        return await self._append(self._append_batch(stream, events, expected, restart))

    def _append_batch(
        self, stream: str, events: Sequence[NewEvent], expected: Expected, restart: bool
    ) -> EncodedBatch:
        """`append`'s checks and encoding: the batch it hands to `_append` (a wrapper of
        `append`, such as the observability's, does the same without a frame between)."""
        self._check_open()
        batch = encode_batch(stream, events, expected)
        check_not_system(stream)
        if restart:
            batch = msgspec.structs.replace(batch, restart=True)
        return batch

    async def read_stream(
        self,
        stream: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int | None = None,
        must_exist: bool = False,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield one stream's events in version order (or reverse with `backwards`).

        `from_version` is inclusive: the first version forwards, the newest one backwards.
        With `must_exist`, a stream without events raises `StreamNotFound` (`StreamDeleted`
        when it was deleted). Events below a truncation or deletion are never read.
        """
        pages = self.read_stream_pages(
            stream,
            from_version=from_version,
            backwards=backwards,
            limit=limit,
            must_exist=must_exist,
        )
        async for page in pages:
            for event in page:
                yield event

    def read_stream_pages(
        self,
        stream: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int | None = None,
        must_exist: bool = False,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """`read_stream`, a page of events at a time (no empty page): for readers that
        handle events in batches, such as a repository replaying an aggregate."""

        def read(cursor: int | None, size: int) -> Awaitable[list[RecordedEvent]]:
            return self._read_stream_page(stream, cursor, backwards, size)

        return stream_pages(self, stream, from_version, backwards, limit, must_exist, read)

    def replay_pages(
        self, stream: str, *, from_version: int | None = None, limit: int | None = None
    ) -> AsyncIterator[Replayed]:
        """`read_stream_pages` forwards, for a repository replaying an aggregate: a backend
        that can hands out `ReplayRecord`s (data still encoded), others `RecordedEvent`s."""

        def read(cursor: int | None, size: int) -> Awaitable[Replayed]:
            return self._read_replay_page(stream, cursor, size)

        return stream_pages(self, stream, from_version, False, limit, False, read)

    async def _read_replay_page(
        self, stream: str, from_version: int | None, limit: int
    ) -> Replayed:
        return await self._read_stream_page(stream, from_version, False, limit)

    async def read_all(
        self,
        *,
        after: Position | None = None,
        limit: int | None = None,
        types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield events of every stream in global order, strictly after `after`."""
        check_position(after)
        check_limit(limit)
        wanted = event_filter(types, categories)
        self._check_open()
        remaining = limit
        while remaining is None or remaining > 0:
            size = self.read_page_size if remaining is None else min(remaining, self.read_page_size)
            page = await self._read_all_page(after, size, wanted)
            for event in page:
                yield event
            if len(page) < size:
                return
            if remaining is not None:
                remaining -= len(page)
            after = page[-1].position

    async def read_all_page(
        self,
        *,
        after: Position | None = None,
        limit: int = 1000,
        types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
    ) -> list[RecordedEvent]:
        """One page of `read_all` as a list: what batch consumers such as projections want."""
        check_position(after)
        check_limit(limit)
        self._check_open()
        return await self._read_all_page(after, limit, event_filter(types, categories))

    async def subscribe(
        self,
        *,
        after: Position | None = None,
        types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        """Yield the stored events after `after`, then new ones as they commit, forever.

        Cancel the consuming task (or break out of the loop) to stop.
        """
        check_position(after)
        wanted = event_filter(types, categories)
        filtered = wanted.types is not None or wanted.categories is not None
        self._check_open()
        signal = self.append_signal
        while True:
            ticket = signal.ticket()
            # A short filtered page proves that nothing matching lies between `after` and
            # the head seen before the read; moving `after` there spares the next look a
            # rescan of every non-matching event. Gap safety makes this sound: nothing can
            # appear later at or before a position once it was visible.
            horizon = await self.head() if filtered else None
            page = await self._subscription_page(after, wanted)
            for event in page:
                yield event
            if page:
                after = page[-1].position
            if len(page) < self.read_page_size:
                if horizon is not None and (after is None or horizon > after):
                    after = horizon
                await signal.wait(ticket, self.poll_interval)
                self._check_open()

    async def _subscription_page(
        self, after: Position | None, wanted: EventFilter
    ) -> list[RecordedEvent]:
        """One page for a subscription; a backend may override it to ride out outages."""
        return await self._read_all_page(after, self.read_page_size, wanted)

    async def read_event(self, event_id: UUID) -> RecordedEvent | None:
        """The stored event with this id, or `None`."""
        if not isinstance(event_id, UUID):
            raise ValidationError(f"event_id must be a UUID, not {type(event_id).__name__}")
        self._check_open()
        return await self._read_event(event_id)

    async def save_snapshot(
        self, stream: str, version: int, state: dict[str, Any], *, schema: str
    ) -> None:
        """Keep `state` as the stream's state at `version`, under the snapshot `schema` tag.

        Saving the same (stream, schema, version) again replaces the earlier snapshot.
        """
        check_stream_name(stream)
        check_version("version", version)
        check_name("snapshot schema", schema)
        encoded = encode_object("snapshot state", state)
        self._check_open()
        await self._save_snapshot(stream, version, schema, encoded)

    async def load_snapshot(
        self, stream: str, *, schema: str, max_version: int | None = None
    ) -> Snapshot | None:
        """The newest snapshot of `stream` with this `schema` tag, at or below `max_version`.

        Snapshots under another schema tag are never returned: changing the tag retires
        every snapshot taken with the old one.
        """
        check_stream_name(stream)
        check_name("snapshot schema", schema)
        if max_version is not None:
            check_version("max_version", max_version)
        self._check_open()
        return await self._load_snapshot(stream, schema, max_version)

    async def stream_version(self, stream: str) -> int:
        """The version of the stream's last event; 0 when the stream has none."""
        check_stream_name(stream)
        self._check_open()
        return await self._stream_version(stream)

    # -- privileged and optional operations, for tools ------------------------------------

    async def import_events(self, events: Sequence[RecordedEvent]) -> None:
        """Store events copied from another store, keeping their id, stream, version, type,
        data, metadata and `recorded_at` exactly; they take positions of this store, in
        the order given.

        Privileged: this is how `eventbook copy` and `eventbook import` move a store, not
        a way for applications to write. Each stream must be exactly at the version just
        before its first event here, and a stream's events must follow each other;
        otherwise `ValidationError` is raised and nothing is imported. Append hooks
        (inline projections) run as for an append. SQLite, PostgreSQL and the memory
        store import the whole call in one transaction; the port's default checks every
        stream first, then appends one stream's run of events at a time, in order.
        """
        batches = encode_import(events)
        self._check_open()
        await self._import(batches)

    async def list_streams(self, *, category: str | None = None) -> list[StreamInfo]:
        """Every stream (of `category` only, if given) with its version, size and last
        event, by name. Optional: raises `NotSupported` on a backend without it."""
        if category is not None:
            check_name("category", category)
        self._check_open()
        return await self._list_streams(category)

    async def stats(self) -> StoreStats:
        """The store's totals: events, streams, size on disk, events per type.
        Optional: raises `NotSupported` on a backend without it."""
        self._check_open()
        return await self._stats()

    @property
    @abc.abstractmethod
    def append_signal(self) -> AppendSignal:
        """How a caught-up reader sleeps until new events may be there (see `AppendSignal`).

        Take `ticket()` before a read; after a short page, `await wait(ticket, timeout)`.
        `subscribe` does exactly this; projection runners and live feeds do the same.
        """

    def check_position(self, position: object) -> Position:
        """`position`, if this store could ever return it; else `ValidationError`.

        Positions of one backend have one shape (SQLite and memory stores count from 0
        with `major == 0`; PostgreSQL's `major` is a transaction id), so a position of
        another shape comes from another store and no wait for it could ever end.
        """
        if not isinstance(position, Position):
            raise ValidationError(
                f"a position must be a Position, not {type(position).__name__}"
                " (use Position.parse() for a stored string)"
            )
        check_position(position)
        if not self._position_fits(position):
            raise ValidationError(
                f"position {position} cannot come from this store"
                f" ({type(self).__name__}): it has the shape of another backend's positions"
            )
        return position

    @abc.abstractmethod
    async def head(self) -> Position | None:
        """The position of the newest event readers may see; `None` for an empty store."""

    async def close(self) -> None:
        """Release the backend's resources. Further calls raise `StoreClosed`."""
        if not self._closed:
            self._closed = True
            await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what a backend implements ---------------------------------------------------------

    @abc.abstractmethod
    def _position_fits(self, position: Position) -> bool:
        """Whether `position` has the shape of this backend's positions."""

    @abc.abstractmethod
    async def _append(self, batch: EncodedBatch) -> AppendResult: ...

    @abc.abstractmethod
    async def _read_stream_page(
        self, stream: str, from_version: int | None, backwards: bool, limit: int
    ) -> list[RecordedEvent]: ...

    @abc.abstractmethod
    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]: ...

    @abc.abstractmethod
    async def _read_event(self, event_id: UUID) -> RecordedEvent | None: ...

    @abc.abstractmethod
    async def _stream_version(self, stream: str) -> int: ...

    @abc.abstractmethod
    async def _save_snapshot(
        self, stream: str, version: int, schema: str, state: bytes
    ) -> None: ...

    @abc.abstractmethod
    async def _load_snapshot(
        self, stream: str, schema: str, max_version: int | None
    ) -> Snapshot | None: ...

    @abc.abstractmethod
    async def _close(self) -> None: ...

    async def _import(self, batches: Sequence[EncodedBatch]) -> None:
        """Write validated import batches in order; each keeps its events' `recorded_at`.

        This default checks every stream's version first, then appends batch by batch
        (each atomic); a backend that can should override it to write them in one
        transaction.
        """
        first_expected: dict[str, int] = {}
        for batch in batches:
            first_expected.setdefault(batch.stream, expected_number(batch.expected))
        for stream, wanted in first_expected.items():
            actual = await self._stream_version(stream)
            if actual != wanted:
                raise import_refused(stream, actual, wanted)
        for batch in batches:
            try:
                await self._append(batch)
            except ConcurrencyError as conflict:  # another writer got there meanwhile
                raise import_refused(
                    batch.stream, conflict.actual, expected_number(batch.expected)
                ) from conflict

    async def _list_streams(self, category: str | None) -> list[StreamInfo]:
        raise NotSupported(f"{type(self).__name__} cannot list its streams")

    async def _stats(self) -> StoreStats:
        raise NotSupported(f"{type(self).__name__} cannot report store statistics")

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the event store is closed")
