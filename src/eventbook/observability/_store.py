"""Instrumenting an event store in place: its page primitives get timed and traced.

The store keeps its type and every backend method (append hooks, `ordering_lag`, inline
projections): `observe_store` wraps the primitives the port calls (`_append`,
`_read_stream_page`, `_read_all_page`, `_load_snapshot`) on the instance.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Gauge

from eventbook._errors import ConcurrencyError
from eventbook._store.port import EventStore
from eventbook._store.types import AppendResult, EncodedBatch, RecordedEvent, category_of
from eventbook.observability._instruments import CounterSeries
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import command_scope, load_scope, spans_wanted
from eventbook.observability._tracing import tracer

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
    replaced["_append"] = observed.append
    replaced["_read_stream_page"] = observed.read_stream
    replaced["_read_replay_page"] = observed.read_replay
    replaced["_read_all_page"] = observed.read_all
    replaced["_load_snapshot"] = observed.load_snapshot
    if metrics is not None:
        replaced["subscribe"] = observed.subscribe
    replaced[_MARK] = True
    return store


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

    def appended(self, batch: EncodedBatch, version: int) -> None:
        for event in batch.events:
            series = self._appended.get(event.type)
            if series is None:
                labelled = self.metrics.appended_events.labels(self.backend, event.type)
                series = self._appended[event.type] = labelled
            series.inc()
        self.stream_length.observe(version)


class _Observed:
    """The wrappers of one store's primitives."""

    def __init__(self, store: EventStore, metrics: EventbookMetrics | None) -> None:
        self.backend = backend_name(store)
        self.metrics = metrics
        self.series = _Series(metrics, self.backend) if metrics is not None else None
        self.spans = tracer()
        self._append: Callable[[EncodedBatch], Awaitable[AppendResult]] = store._append
        self._read_stream: Callable[..., Awaitable[Any]] = store._read_stream_page
        self._read_replay: Callable[..., Awaitable[Any]] = store._read_replay_page
        self._read_all: Callable[..., Awaitable[Any]] = store._read_all_page
        self._load_snapshot: Callable[..., Awaitable[Any]] = store._load_snapshot
        self._subscribe: Callable[..., AsyncIterator[RecordedEvent]] = store.subscribe

    async def append(self, batch: EncodedBatch) -> AppendResult:
        if spans_wanted():
            return await self._traced_append(batch)
        series = self.series
        started = time.perf_counter()
        try:
            result = await self._append(batch)
        except ConcurrencyError:
            self._conflict()
            raise
        if series is not None:
            series.append_seconds.observe(time.perf_counter() - started)
            if not result.replayed:
                series.appended(batch, result.version)
        return result

    async def _traced_append(self, batch: EncodedBatch) -> AppendResult:
        series = self.series
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
            started = time.perf_counter()
            try:
                result = await self._append(batch)
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
            if series is not None:
                series.append_seconds.observe(time.perf_counter() - started)
                if not result.replayed:
                    series.appended(batch, result.version)
            return result

    def _conflict(self) -> None:
        if self.series is not None:
            self.series.conflicts.inc()
        if (scope := command_scope.get()) is not None:
            scope.conflicts += 1

    async def read_stream(self, stream: str, start: int | None, backwards: bool, limit: int) -> Any:
        started = time.perf_counter()
        page = await self._read_stream(stream, start, backwards, limit)
        if self.series is not None:
            self.series.read_stream.observe(time.perf_counter() - started)
        if (scope := load_scope.get()) is not None:
            scope.count(page, backwards)
        return page

    async def read_replay(self, stream: str, start: int | None, limit: int) -> Any:
        started = time.perf_counter()
        page = await self._read_replay(stream, start, limit)
        if self.series is not None:
            self.series.read_stream.observe(time.perf_counter() - started)
        if (scope := load_scope.get()) is not None:
            scope.count(page, False)
        return page

    async def read_all(self, *args: Any) -> Any:
        started = time.perf_counter()
        page = await self._read_all(*args)
        if self.series is not None:
            self.series.read_all.observe(time.perf_counter() - started)
        return page

    async def load_snapshot(self, *args: Any) -> Any:
        started = time.perf_counter()
        found = await self._load_snapshot(*args)
        if (series := self.series) is not None:
            series.read_snapshot.observe(time.perf_counter() - started)
            (series.snapshot_misses if found is None else series.snapshot_hits).inc()
        return found

    def subscribe(self, **options: Any) -> AsyncIterator[RecordedEvent]:
        assert self.metrics is not None  # wrapped only with metrics
        return connected(self._subscribe(**options), self.metrics.subscriptions.labels("store"))
