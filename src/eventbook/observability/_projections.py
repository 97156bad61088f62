"""Observing projections: each batch and handled event, and each build's status.

Per batch (the runner's `on_batch` observer): events handled, their delay from
recording to commit, the batch's duration (from the sink's `begin` to the commit) and,
with an SDK, a span linking every command whose events the batch handled. Per event,
with an SDK: a span that continues the trace stored in the event's metadata. Lag,
state, parked events and leases come from `projections.status`, read at scrape time.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.trace import Link, SpanKind

from eventbook._store.port import EventStore
from eventbook._store.types import RecordedEvent
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._tracing import context_of, link_of, tracer, tracing_configured
from eventbook.projections._projection import Handler, Projection
from eventbook.projections._settings import RunnerState
from eventbook.projections._status import ProjectionState, ProjectionStatus, status

DELAY_SAMPLES = 16
"""Events of a batch whose delay is measured; each stands for its share of the batch."""

MAX_LINKS = 32
"""Most commands a batch span links to (a batch of thousands would drown a trace view)."""

_HOLDING = frozenset(
    {RunnerState.LIVE, RunnerState.CATCHING_UP, RunnerState.WAITING, RunnerState.FAILED}
)


class _BuildSeries:
    """A build's per-batch series, resolved once (its labels never change)."""

    def __init__(self, metrics: EventbookMetrics, name: str, version: int) -> None:
        build = (name, str(version))
        self.handled = metrics.handled_events.labels(*build)
        self.delay = metrics.event_delay.labels(*build)
        self.batch = metrics.batch_seconds.labels(*build)
        self.position = metrics.position.labels(*build)


class ProjectionObserver:
    """Instruments projection builds; pass `on_batch` to the daemon or runner."""

    def __init__(self, metrics: EventbookMetrics | None) -> None:
        self._metrics = metrics
        self._tracer = tracer()
        self._began: dict[int, int] = {}  # id(sink) -> time.time_ns() of the batch's begin
        self._builds: dict[tuple[str, int], _BuildSeries] = {}

    def observe(self, projection: Projection[Any]) -> Projection[Any]:
        """The same build, its sink's `begin` timed and (with an SDK) its handlers traced."""
        sink = projection.sink
        attributes = vars(sink)
        if "begin" not in attributes:
            begin = sink.begin
            began = self._began
            key = id(sink)

            def timed_begin(*args: Any, **options: Any) -> Any:
                began[key] = time.time_ns()
                return begin(*args, **options)

            attributes["begin"] = timed_begin
        if not tracing_configured():
            return projection
        traced = {
            event_type: self._traced(projection, handler)
            for event_type, handler in projection.handlers.items()
        }
        return dataclasses.replace(projection, handlers=traced)

    def _traced(self, projection: Projection[Any], handler: Handler[Any]) -> Handler[Any]:
        spans = self._tracer
        name, version = projection.name, projection.version

        async def handle(event: RecordedEvent, batch: Any) -> None:
            with spans.start_as_current_span(
                f"project {name} {event.type}",
                context=context_of(event.metadata),
                kind=SpanKind.CONSUMER,
                attributes={
                    "eventbook.projection": name,
                    "eventbook.projection.version": version,
                    "eventbook.event.type": event.type,
                    "eventbook.event.id": str(event.id),
                    "eventbook.stream": event.stream,
                    "eventbook.position": str(event.position),
                },
            ):
                result = handler(event, batch)
                if result is not None:
                    await result

        return handle

    def on_batch(
        self, projection: Projection[Any], events: Sequence[RecordedEvent], committed_at: float
    ) -> None:
        """The runner's `on_batch` observer (`BatchObserver`)."""
        began = self._began.pop(id(projection.sink), None)
        if self._metrics is not None:
            key = (projection.name, projection.version)
            series = self._builds.get(key)
            if series is None:
                series = self._builds[key] = _BuildSeries(self._metrics, *key)
            series.handled.inc(len(events))
            series.delay.observe_counted(delays(events, committed_at))
            if began is not None:
                series.batch.observe(max(0.0, committed_at - began / 1e9))
            series.position.set(events[-1].position.minor)
        if tracing_configured():
            self._batch_span(projection, events, began, committed_at)

    def _batch_span(
        self,
        projection: Projection[Any],
        events: Sequence[RecordedEvent],
        began: int | None,
        committed_at: float,
    ) -> None:
        links: list[Link] = []
        seen: set[int] = set()
        for event in events:
            link = link_of(event.metadata)
            if link is not None and link.context.trace_id not in seen:
                seen.add(link.context.trace_id)
                links.append(link)
                if len(links) == MAX_LINKS:
                    break
        end = int(committed_at * 1e9)
        span = self._tracer.start_span(
            f"projection batch {projection.label}",
            kind=SpanKind.CONSUMER,
            links=links,
            start_time=began if began is not None else end,
            attributes={
                "eventbook.projection": projection.name,
                "eventbook.projection.version": projection.version,
                "eventbook.events": len(events),
                "eventbook.position.first": str(events[0].position),
                "eventbook.position.last": str(events[-1].position),
            },
        )
        span.end(end_time=end)

    async def refresh(
        self,
        store: EventStore,
        projections: Sequence[Projection[Any]],
        *,
        stuck_after: float,
        runner_states: Mapping[str, RunnerState] | None = None,
    ) -> list[ProjectionStatus]:
        """Read every build's status into the gauges (at scrape time) and return it."""
        found = await status(store, projections, stuck_after=stuck_after)
        metrics = self._metrics
        if metrics is None:
            return found
        for item in found:
            build = (item.name, str(item.version))
            metrics.lag_events.labels(*build).set(item.lag_events)
            metrics.lag_seconds.labels(*build).set(item.lag_seconds)
            metrics.parked.labels(*build).set(item.parked)
            metrics.stuck.labels(*build).set(1 if item.stuck else 0)
            if item.position is not None:
                metrics.position.labels(*build).set(int(item.position.rpartition(":")[2]))
            for state in ProjectionState:
                chosen = 1 if state is item.state else 0
                metrics.state.labels(*build, state.value).set(chosen)
            for part in item.partitions:
                labels = (*build, str(part.partition))
                metrics.partition_lag_events.labels(*labels).set(part.lag_events)
                metrics.partition_lag_seconds.labels(*labels).set(part.lag_seconds)
                if part.position is not None:
                    sequence = int(part.position.rpartition(":")[2])
                    metrics.partition_position.labels(*labels).set(sequence)
        if runner_states is not None:
            for projection in projections:
                build = (projection.name, str(projection.version))
                if projection.partitions == 1:
                    held = 1 if runner_states.get(projection.label) in _HOLDING else 0
                    metrics.lease_held.labels(*build).set(held)
                    continue
                for partition in range(projection.partitions):
                    runner = runner_states.get(f"{projection.label}#{partition}")
                    held = 1 if runner in _HOLDING else 0
                    metrics.partition_lease_held.labels(*build, str(partition)).set(held)
        return found


def delays(events: Sequence[RecordedEvent], committed_at: float) -> list[tuple[float, int]]:
    """`(delay, events)` pairs for the event-delay histogram: every event of a small batch;
    of a large one (catch-up), `DELAY_SAMPLES` evenly spaced events, each counted for the
    events of its stretch. Events come in recording order, so a stretch's delays lie
    between its neighbours'; measuring each event would cost a tenth of catch-up speed."""
    total = len(events)
    if total <= DELAY_SAMPLES:
        return [(committed_at - event.recorded_at.timestamp(), 1) for event in events]
    pairs = []
    for n in range(DELAY_SAMPLES):
        first, end = total * n // DELAY_SAMPLES, total * (n + 1) // DELAY_SAMPLES
        middle = events[(first + end) // 2]
        pairs.append((committed_at - middle.recorded_at.timestamp(), end - first))
    return pairs


async def refresh_store(store: EventStore, metrics: EventbookMetrics | None) -> None:
    """PostgreSQL: the events held back by the ordering horizon, read at scrape time."""
    ordering_lag: Callable[[], Any] | None = getattr(store, "ordering_lag", None)
    if metrics is None or ordering_lag is None:
        return
    lag = await ordering_lag()
    metrics.held_back_events.set(lag.held_back_events)
    metrics.held_back_seconds.set(lag.held_back_seconds)
    metrics.holder_seconds.set(lag.holder_seconds or 0.0)
