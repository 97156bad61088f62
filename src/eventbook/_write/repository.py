"""Loading aggregates from their streams and saving what they recorded.

orders = Repository(store, Order, events, snapshots=snapshot_every(100))
order = await orders.load("order-42")        # newest usable snapshot + later events
order.ship("DHL")
await orders.save(order, context)            # expects the version it loaded

then = await orders.load("order-42", at_version=3)       # time travel (read-only)
then = await orders.load("order-42", as_of=datetime(2024, 5, 1, tzinfo=UTC))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from functools import partial
from time import perf_counter
from typing import Any, Generic, Protocol, TypeVar, cast, overload

from eventbook._errors import ConcurrencyError, ValidationError
from eventbook._store.encoding import check_stream_name, check_version
from eventbook._store.port import EventStore
from eventbook._store.types import NO_STREAM, AppendResult, RecordedEvent, ReplayRecord
from eventbook._write.aggregate import Aggregate, Bookkeeping
from eventbook._write.context import CommandContext
from eventbook._write.decider import Decider, DeciderAggregate
from eventbook._write.messages import EventRegistry
from eventbook._write.snapshots import SnapshotPolicy, SnapshotStats, Snapshotter
from eventbook._write.state_cache import StateCache

A = TypeVar("A", bound=Aggregate[Any])
C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")

_BATCH = 1000  # events decoded together: enough to amortise a pipeline stage's await


LoadEnd = Callable[[float, int], None]
"""Told once when a load's replay ends, done or failed: the `perf_counter()` the repository
read before it, and the events it replayed (counted once, though `_typed` may read them
again in full)."""


class LoadObserver(Protocol):
    """Wraps each load's replay (metrics, tracing: see `eventbook.observability`).

    `begin` is asked first: a `LoadEnd` lets the repository replay in its own call and
    then tell it (the cheap path, no coroutine or object of the observer's around the
    replay); with None, `observe` awaits `rebuild(end)` inside a context of its own (a
    span), with an end of its own that the repository tells the same way, and returns
    what it returns.
    """

    def begin(self, stream: str) -> LoadEnd | None: ...

    async def observe(self, stream: str, rebuild: Callable[[LoadEnd], Awaitable[Any]]) -> Any: ...


class Repository(Generic[A]):
    """Loads and saves one kind of aggregate: a class-style `Aggregate`, or a `Decider`.

    `snapshots` is the aggregate's snapshot policy (`snapshot_every(100)`, or a function
    `(aggregate, events_since_snapshot) -> bool`); without it no snapshots are read or
    taken. With `cache_size`, the latest state of that many recently saved aggregates is
    kept in memory, and loading one reads only the events stored after it.
    """

    @overload
    def __init__(
        self: Repository[A],
        store: EventStore,
        aggregate: type[A],
        events: EventRegistry,
        *,
        snapshots: SnapshotPolicy | None = None,
        cache_size: int = 0,
    ) -> None: ...

    @overload
    def __init__(
        self: Repository[DeciderAggregate[C, S, E]],
        store: EventStore,
        aggregate: Decider[C, S, E],
        events: EventRegistry,
        *,
        snapshots: SnapshotPolicy | None = None,
        cache_size: int = 0,
    ) -> None: ...

    def __init__(
        self,
        store: EventStore,
        aggregate: type[Any] | Decider[Any, Any, Any],
        events: EventRegistry,
        *,
        snapshots: SnapshotPolicy | None = None,
        cache_size: int = 0,
    ) -> None:
        factory: Callable[[], Any]
        if isinstance(aggregate, Decider):
            decider = aggregate
            factory = lambda: DeciderAggregate(decider)  # noqa: E731
            self.name = decider.name
        elif isinstance(aggregate, type) and issubclass(aggregate, Aggregate):
            factory = aggregate
            self.name = aggregate.__name__
        else:
            raise TypeError(
                f"Repository needs an Aggregate subclass or a Decider, not {aggregate!r}"
            )
        if not isinstance(events, EventRegistry):
            raise TypeError(f"Repository needs an EventRegistry, not {type(events).__name__}")
        self.store = store
        self.events = events
        self._factory = cast("Callable[[], A]", factory)
        prototype = self._factory()
        Bookkeeping.of(prototype)  # checks that its __init__ called super().__init__()
        self.is_decider = isinstance(prototype, DeciderAggregate)
        self._snapshotter: Snapshotter | None = None
        self.cache: StateCache | None = None
        if (snapshots is not None or cache_size) and not prototype.supports_snapshots():
            raise TypeError(
                f"{self.name} cannot be snapshotted: define to_snapshot() and"
                " restore_snapshot(), or leave out snapshots= and cache_size="
            )
        if snapshots is not None:
            self._snapshotter = Snapshotter(
                store, prototype.snapshot_tag(), snapshots, states=events
            )
        if cache_size:
            self.cache = StateCache(cache_size)
        self.observer: LoadObserver | None = None
        """Set by `eventbook.observability` to time and trace every load."""

    @property
    def snapshot_stats(self) -> SnapshotStats:
        """Snapshots taken, failed to take, and found unusable (all zero without a policy)."""
        return self._snapshotter.stats if self._snapshotter else SnapshotStats()

    def new(self, stream: str) -> A:
        """A fresh aggregate for `stream`, as `load` returns for a stream without events."""
        check_stream_name(stream)
        return self._new(stream)

    def _new(self, stream: str) -> A:
        aggregate = self._factory()
        Bookkeeping.of(aggregate).bind(stream)
        return aggregate

    async def load(
        self,
        stream: str,
        *,
        at_version: int | None = None,
        as_of: datetime | None = None,
        verified: bool = True,
    ) -> A:
        """The aggregate as of its newest event, or as of `at_version` / `as_of` (read-only).

        A stream without events gives a fresh aggregate at version 0. `as_of` is a
        timezone-aware time compared with each event's `recorded_at`.

        With a state cache, `verified=False` returns a cached state without asking the
        store for newer events. Saving it still expects its version (a stale state fails
        with `ConcurrencyError`, writing nothing), but a refusal or a no-op decided on it
        must be checked on a verified load before it is reported (see `aggregate_handler`).
        """
        check_stream_name(stream)
        if at_version is not None and as_of is not None:
            raise ValidationError("give at_version or as_of, not both")
        if at_version is not None:
            check_version("at_version", at_version)
        history: str | None = None
        if as_of is not None:
            if not isinstance(as_of, datetime) or as_of.tzinfo is None:
                raise ValidationError("as_of must be a timezone-aware datetime")
            at_version = await self._version_at(stream, as_of)
            history = f"as of {as_of.isoformat()}"
            if at_version == 0:
                aggregate = self.new(stream)
                Bookkeeping.of(aggregate).read_only = history
                return aggregate
        elif at_version is not None:
            history = f"at version {at_version}"
        observer = self.observer
        if observer is None:
            aggregate = await self._rebuild(stream, at_version, verified)
        elif (end := observer.begin(stream)) is not None:
            # Timed by `_rebuild`, as `CommandBus` does: no coroutine of the observer's.
            aggregate = await self._rebuild(stream, at_version, verified, end)
        else:
            aggregate = await observer.observe(
                stream, partial(self._rebuild, stream, at_version, verified)
            )
        if at_version is not None and aggregate.version < at_version:
            raise ValidationError(
                f"stream {stream!r} is at version {aggregate.version};"
                f" it has no version {at_version}"
            )
        if history is not None:
            Bookkeeping.of(aggregate).read_only = history
        return aggregate

    async def save(
        self, aggregate: A, context: CommandContext | None = None
    ) -> AppendResult | None:
        """Append the aggregate's pending events, expecting the version it was loaded at.

        Raises `ConcurrencyError` (nothing written) when the stream moved on meanwhile.
        With a command `context`, the events get ids derived from the command id and the
        command's metadata; if an earlier run of the same command stored them already, the
        store returns that run's result, nothing is written, and `context.saved.replayed`
        says so. Returns `None` when there was nothing to save.
        """
        book = Bookkeeping.of(aggregate)
        if book.read_only is not None:
            raise ValidationError(
                f"{book.stream!r} was loaded {book.read_only}; history is read-only"
            )
        pending = book.pending
        if not pending:
            return None
        stream = book.stream
        if not stream:
            raise ValidationError("this aggregate has no stream; get it from load() or new()")
        loaded = book.version
        if context is not None:
            context.check_can_save(stream)
            ids = context.event_ids(len(pending))
            new = await self.events.serialise(
                stream, pending, metadata=context.event_metadata(), ids=ids
            )
        else:
            new = await self.events.serialise(stream, pending)
            ids = [event.id for event in new]
        try:
            result = await self.store.append(stream, new, expected=loaded or NO_STREAM)
        except ConcurrencyError:
            if self.cache is not None:
                self.cache.distrust(stream)
            raise
        # The store returned the stored result of an earlier run of the same command (its
        # event ids derive from the command id). The version alone cannot tell: a state
        # made fresh by new() or kept in the cache may sit where that run started.
        replayed = result.replayed
        if context is not None:
            context.record_save(stream, result, ids, replayed=replayed)
        if replayed:
            book.read_only = "before its command's events were found stored already"
            return result
        book.committed(result.version)
        if self._snapshotter is not None:
            await self._snapshotter.after_save(aggregate)
        if self.cache is not None:
            self.cache.remember(aggregate)
        return result

    def is_unverified(self, aggregate: A) -> bool:
        """Whether `aggregate` came from `load(..., verified=False)` as the cache had it."""
        return Bookkeeping.of(aggregate).unverified

    async def is_current(self, aggregate: A) -> bool:
        """Whether the aggregate's stream is still at the version the aggregate has."""
        return await self.store.stream_version(aggregate.stream) == aggregate.version

    # -- internals -------------------------------------------------------------------------

    async def _rebuild(
        self,
        stream: str,
        at_version: int | None,
        verified: bool = True,
        end: LoadEnd | None = None,
    ) -> A:
        """The aggregate, caught up; with an observer's `end`, timed and told it."""
        started = perf_counter() if end is not None else 0.0
        replayed = 0
        try:
            aggregate: A | None = None
            cache = self.cache if at_version is None else None
            if cache is not None:
                recalled = cache.recall(stream, lambda: self._new(stream))
                if recalled is not None:
                    aggregate, trusted = recalled
                    if trusted and not verified:
                        Bookkeeping.of(aggregate).unverified = True
                        return aggregate
            if aggregate is None and self._snapshotter is not None:
                restore = self._snapshotter.restore
                aggregate = await restore(lambda: self._new(stream), at_version)
            if aggregate is None:
                aggregate = self._new(stream)
            book = Bookkeeping.of(aggregate)
            start = book.version + 1
            if at_version is not None and start > at_version:
                return aggregate
            limit = None if at_version is None else at_version - start + 1
            batch: list[Any] = []  # all RecordedEvents or all ReplayRecords
            pages: AsyncIterator[list[RecordedEvent] | list[ReplayRecord]]
            if self.events.decodes_replays:
                pages = self.store.replay_pages(stream, from_version=start, limit=limit)
            else:
                pages = self.store.read_stream_pages(stream, from_version=start, limit=limit)
            async for page in pages:
                batch += page
                if len(batch) >= _BATCH:
                    await self._replay(aggregate, book, batch)
                    replayed += len(batch)  # once, though `_typed` may read them again
                    batch = []
            if batch:
                await self._replay(aggregate, book, batch)
                replayed += len(batch)
            if cache is not None:
                cache.remember(aggregate)  # caught up: the entry is current (and trusted) again
            return aggregate
        finally:
            if end is not None:
                end(started, replayed)

    async def _replay(
        self,
        aggregate: A,
        book: Bookkeeping[Any],
        batch: list[RecordedEvent] | list[ReplayRecord],
    ) -> None:
        apply = aggregate.apply
        for event in await self._typed(book.stream, batch):
            apply(event)
        book.version = batch[-1].version

    async def _typed(
        self, stream: str, batch: list[RecordedEvent] | list[ReplayRecord]
    ) -> list[Any]:
        if isinstance(batch[0], RecordedEvent):
            return await self.events.deserialise(batch)
        typed = self.events.decode_replayed(batch)
        if typed is not None:
            return typed
        # Stages, upcasters or data that does not fit: read those events in full, through
        # the whole pipeline (which also reports any problem as it always has).
        events: list[RecordedEvent] = []
        first, count = batch[0].version, len(batch)
        async for page in self.store.read_stream_pages(stream, from_version=first, limit=count):
            events += page
        if [event.version for event in events] != [record.version for record in batch]:
            # The stream was truncated or deleted between the two reads.
            actual = await self.store.stream_version(stream)
            raise ConcurrencyError(stream, batch[-1].version, actual)
        return await self.events.deserialise(events)

    async def _version_at(self, stream: str, as_of: datetime) -> int:
        """The newest version recorded at or before `as_of` (0 if none)."""
        async for event in self.store.read_stream(stream, backwards=True):
            if event.recorded_at <= as_of:
                return event.version
        return 0
