"""Instrumenting an event store in place: its page primitives get timed and traced.

The store keeps its type and every backend method (append hooks, `ordering_lag`, inline
projections): `observe_store` wraps, on the instance, `append` (timing the inner `_append`
itself, so that the observed append adds no coroutine), `_append` for its other callers,
`_read_all_page` and `_load_snapshot`; stream pages (a reader's or a replay's) are timed
by the port's paging itself, into the series it finds in `_page_times` (a wrapper of the
page reads would add a coroutine per page, a hook a call).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from itertools import compress, repeat
from operator import is_not
from time import perf_counter
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Gauge

from eventbook._errors import ConcurrencyError
from eventbook._store.port import EventStore
from eventbook._store.types import (
    ANY,
    AppendResult,
    EncodedBatch,
    Expected,
    NewEvent,
    RecordedEvent,
    category_of,
)
from eventbook.observability._instruments import CounterSeries, Samples
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import command_scope
from eventbook.observability._tracing import providers, tracer, tracing_configured

T = TypeVar("T")
_MARK = "_eventbook_observed"
_BACKENDS = {
    "MemoryEventStore": "memory",
    "SQLiteEventStore": "sqlite",
    "PostgresEventStore": "postgresql",
}


async def connected(events: AsyncIterator[T], gauge: Gauge) -> AsyncIterator[T]:
    """`events`, counted in `gauge` from the first read until closed or abandoned."""
    gauge.inc()
    try:
        async for event in events:
            yield event
    finally:
        gauge.dec()
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


def backend_name(store: EventStore) -> str:
    """A short, bounded name for the store's backend (`sqlite`, `postgresql`, ...)."""
    name = type(store).__name__
    return _BACKENDS.get(name) or name.removesuffix("EventStore").lower() or "store"


def observe_store(store: EventStore, metrics: EventbookMetrics | None) -> EventStore:
    """Time and trace `store`'s appends and reads; returns the same store."""
    if getattr(store, _MARK, False):
        return store
    observed = _Observed(store, metrics)
    # Instance attributes win over the class's methods for every caller, the port included.
    replaced = vars(store)
    replaced["append"] = observed.append_events
    replaced["_append"] = observed.append
    if observed.series is not None:  # the port appends each stream page's time to it
        replaced["_page_times"] = observed.series.read_stream
    replaced["_read_all_page"] = observed.read_all
    replaced["_load_snapshot"] = observed.load_snapshot
    if metrics is not None:
        replaced["subscribe"] = observed.subscribe
    replaced[_MARK] = True
    return store


AppendSample = tuple[float, int, "str | tuple[str, ...] | None"]
"""One append: its duration, the stream's new version, and the event type (a tuple of
them for several events; None when the batch was stored already and nothing was added)."""


class _Series:
    """The store's series, resolved once: its backend is the one label most of them take."""

    def __init__(self, metrics: EventbookMetrics, backend: str) -> None:
        self.metrics = metrics
        self.backend = backend
        self.append_seconds = metrics.append_seconds.labels(backend)
        self.conflicts = metrics.append_conflicts.labels(backend)
        self.stream_length = metrics.stream_length.labels(backend)
        self.read_stream = metrics.read_seconds.labels(backend, "stream")
        self.read_all = metrics.read_seconds.labels(backend, "all")
        self.read_snapshot = metrics.read_seconds.labels(backend, "snapshot")
        self.snapshot_hits = metrics.snapshot_loads.labels(backend, "hit")
        self.snapshot_misses = metrics.snapshot_loads.labels(backend, "miss")
        self._appended: dict[str, CounterSeries] = {}
        # An append's three measures go in one sample; sorted when any of them is scraped.
        feeds = (metrics.append_seconds, metrics.stream_length, metrics.appended_events)
        self.appends: Samples[AppendSample] = Samples(self._sort_appends, feeds)

    def _sort_appends(self, samples: list[AppendSample]) -> None:
        """Into the three series; every step per sample runs in C (zip, compress, Counter)."""
        seconds, versions, typed = zip(*samples, strict=True)
        self.append_seconds.observe_many(seconds)
        added = list(map(is_not, typed, repeat(None)))  # None: nothing was added
        self.stream_length.observe_many(compress(versions, added))
        counts: Counter[str] = Counter()
        for types, times in Counter(compress(typed, added)).items():
            for event_type in (types,) if isinstance(types, str) else types:
                counts[event_type] += times
        for event_type, count in counts.items():
            series = self._appended.get(event_type)
            if series is None:
                labelled = self.metrics.appended_events.labels(self.backend, event_type)
                series = self._appended[event_type] = labelled
            series.inc(count)


class _Observed:
    """The wrappers of one store's primitives."""

    def __init__(self, store: EventStore, metrics: EventbookMetrics | None) -> None:
        self.backend = backend_name(store)
        self.metrics = metrics
        self.series = _Series(metrics, self.backend) if metrics is not None else None
        self.spans = tracer()
        series = self.series
        # Resolved once, for the two wrappers every command goes through.
        self._appends = series.appends if series is not None else None
        self._write: Callable[[EncodedBatch], Awaitable[AppendResult]] = store._append
        self._append_batch = store._append_batch
        self._read_all: Callable[..., Awaitable[Any]] = store._read_all_page
        self._load_snapshot: Callable[..., Awaitable[Any]] = store._load_snapshot
        self._subscribe: Callable[..., AsyncIterator[RecordedEvent]] = store.subscribe

    async def append_events(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected: Expected = ANY,
        *,
        restart: bool = False,
    ) -> AppendResult:
        """The store's `append` in place of its own: it times the inner `_append` itself.

        Its body after validation is `append`'s, written out rather than awaited: an
        extra coroutine per command costs about 2 k instructions, a third of a percent
        of a command, for a few bytecodes."""
        batch = self._append_batch(stream, events, expected, restart)
        if providers._TRACER_PROVIDER is not None and tracing_configured():
            return await self._traced_append(batch)
        started = perf_counter()
        try:
            result = await self._write(batch)
        except ConcurrencyError:
            self._conflict()
            raise
        self._appended(batch, result, started)
        return result

    async def append(self, batch: EncodedBatch) -> AppendResult:
        """`_append`, for the store's other callers of it (imports, lifecycle markers)."""
        if providers._TRACER_PROVIDER is not None and tracing_configured():
            return await self._traced_append(batch)
        started = perf_counter()
        try:
            result = await self._write(batch)
        except ConcurrencyError:
            self._conflict()
            raise
        self._appended(batch, result, started)
        return result

    def _appended(self, batch: EncodedBatch, result: AppendResult, started: float) -> None:
        if (appends := self._appends) is not None:
            events = batch.events
            if result.replayed:
                types: str | tuple[str, ...] | None = None
            elif len(events) == 1:
                types = events[0].type
            else:
                types = tuple(event.type for event in events)
            appends.record((perf_counter() - started, result.version, types))

    async def _traced_append(self, batch: EncodedBatch) -> AppendResult:
        with self.spans.start_as_current_span(
            "eventbook.append",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system": self.backend,
                "eventbook.stream": batch.stream,
                "eventbook.stream.category": category_of(batch.stream),
                "eventbook.events": len(batch.events),
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            started = perf_counter()
            try:
                result = await self._write(batch)
            except ConcurrencyError:
                span.set_attribute("eventbook.conflict", True)
                self._conflict()
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            span.set_attribute("eventbook.version", result.version)
            span.set_attribute("eventbook.position", str(result.position))
            span.set_attribute("eventbook.replayed", result.replayed)
            self._appended(batch, result, started)
            return result

    def _conflict(self) -> None:
        if self.series is not None:
            self.series.conflicts.inc()
        if (scope := command_scope.get()) is not None:
            scope.conflicts += 1

    async def read_all(self, *args: Any) -> Any:
        started = perf_counter()
        page = await self._read_all(*args)
        if self.series is not None:
            self.series.read_all.observe(perf_counter() - started)
        return page

    async def load_snapshot(self, *args: Any) -> Any:
        started = perf_counter()
        found = await self._load_snapshot(*args)
        if (series := self.series) is not None:
            series.read_snapshot.observe(perf_counter() - started)
            (series.snapshot_misses if found is None else series.snapshot_hits).inc()
        return found

    def subscribe(self, **options: Any) -> AsyncIterator[RecordedEvent]:
        assert self.metrics is not None  # wrapped only with metrics
        return connected(self._subscribe(**options), self.metrics.subscriptions.labels("store"))
