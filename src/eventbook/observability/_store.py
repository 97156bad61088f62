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
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import command_scope, load_scope, spans_wanted
from eventbook.observability._tracing import NO_SPAN, tracer

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
    replaced["_read_all_page"] = observed.read_all
    replaced["_load_snapshot"] = observed.load_snapshot
    if metrics is not None:
        replaced["subscribe"] = observed.subscribe
    replaced[_MARK] = True
    return store


class _Observed:
    """The wrappers of one store's primitives."""

    def __init__(self, store: EventStore, metrics: EventbookMetrics | None) -> None:
        self.backend = backend_name(store)
        self.metrics = metrics
        self.spans = tracer()
        self._append: Callable[[EncodedBatch], Awaitable[AppendResult]] = store._append
        self._read_stream: Callable[..., Awaitable[Any]] = store._read_stream_page
        self._read_all: Callable[..., Awaitable[Any]] = store._read_all_page
        self._load_snapshot: Callable[..., Awaitable[Any]] = store._load_snapshot
        self._subscribe: Callable[..., AsyncIterator[RecordedEvent]] = store.subscribe

    async def append(self, batch: EncodedBatch) -> AppendResult:
        backend, metrics = self.backend, self.metrics
        with (
            self.spans.start_as_current_span(
                "eventbook.append",
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system": backend,
                    "eventbook.stream": batch.stream,
                    "eventbook.stream.category": category_of(batch.stream),
                    "eventbook.events": len(batch.events),
                },
                record_exception=False,
                set_status_on_exception=False,
            )
            if spans_wanted()
            else NO_SPAN
        ) as span:
            started = time.perf_counter()
            try:
                result = await self._append(batch)
            except ConcurrencyError:
                span.set_attribute("eventbook.conflict", True)
                if metrics is not None:
                    metrics.append_conflicts.labels(backend).inc()
                if (scope := command_scope.get()) is not None:
                    scope.conflicts += 1
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            if span.is_recording():
                span.set_attribute("eventbook.version", result.version)
                span.set_attribute("eventbook.position", str(result.position))
                span.set_attribute("eventbook.replayed", result.replayed)
            if metrics is not None:
                metrics.append_seconds.labels(backend).observe(time.perf_counter() - started)
                if not result.replayed:
                    for event in batch.events:
                        metrics.appended_events.labels(backend, event.type).inc()
                    metrics.stream_length.labels(backend).observe(result.version)
            return result

    async def read_stream(self, *args: Any) -> Any:
        started = time.perf_counter()
        page = await self._read_stream(*args)
        self._timed("stream", started)
        if (scope := load_scope.get()) is not None:
            scope.events += len(page)
        return page

    async def read_all(self, *args: Any) -> Any:
        started = time.perf_counter()
        page = await self._read_all(*args)
        self._timed("all", started)
        return page

    async def load_snapshot(self, *args: Any) -> Any:
        started = time.perf_counter()
        found = await self._load_snapshot(*args)
        self._timed("snapshot", started)
        if self.metrics is not None:
            result = "miss" if found is None else "hit"
            self.metrics.snapshot_loads.labels(self.backend, result).inc()
        return found

    def subscribe(self, **options: Any) -> AsyncIterator[RecordedEvent]:
        assert self.metrics is not None  # wrapped only with metrics
        return connected(self._subscribe(**options), self.metrics.subscriptions.labels("store"))

    def _timed(self, read: str, started: float) -> None:
        if self.metrics is not None:
            elapsed = time.perf_counter() - started
            self.metrics.read_seconds.labels(self.backend, read).observe(elapsed)
