"""Observing the write side: each command dispatched, each aggregate loaded.

The command's span is current while its handler runs, so the aggregate load and the
append become its children, and its W3C trace context is copied into the metadata of
every event it stores (`traceparent`), where a projection finds it later. Without an
SDK no span is made: the bus and the repository run the work in their own calls between
an observer's `begin` and `end` (no coroutine or object of ours: each would cost more
than what it measures), keeping its start time and telling `end` what the scope tells on
the traced path (the bus its conflicts; the repository counts the events it replayed on
both paths), so that no context variable is set either. What remains is a couple of
clock reads and one sample.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any, TypeVar

import msgspec
from opentelemetry.trace import Status, StatusCode

from eventbook._errors import (
    CommandIdReused,
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    ValidationError,
)
from eventbook._write.commands import CommandResult
from eventbook._write.context import CommandMetadata
from eventbook._write.repository import LoadEnd, Repository
from eventbook.observability._instruments import FOLD_AT, Histogram, HistogramSeries, Samples
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import CommandScope, command_scope
from eventbook.observability._tracing import (
    caller_context,
    current_trace_context,
    providers,
    tracer,
    tracing_configured,
)

R = TypeVar("R", bound=Repository[Any])
LoadSample = tuple[float, int]
"""One aggregate load: its duration and the events it replayed."""

_REFUSALS = (DomainError, CommandValidationError, ValidationError, CommandIdReused)


class CommandObserver:
    """A `CommandBus.observer`: a span and a latency sample per command, by outcome."""

    def __init__(self, metrics: EventbookMetrics | None) -> None:
        self._metrics = metrics
        self._tracer = tracer()
        self._latencies: dict[str, _Latencies] = {}

    def begin(self, command_type: str, metadata: CommandMetadata) -> CommandMetadata | None:
        """The cheap path, with no SDK: the metadata the bus runs the command with, in
        its own call, before it calls `end`. With one, None: `observe` wraps the run in
        the command's span."""
        if providers._TRACER_PROVIDER is not None and tracing_configured():
            return None
        # No SDK, so no span of ours; a caller's may be current all the same (an HTTP
        # request continuing an incoming `traceparent`): it goes into the events' metadata.
        if caller_context():
            traced = current_trace_context()
            if traced:
                return msgspec.structs.replace(metadata, extra={**metadata.extra, **traced})
        return metadata

    def end(
        self,
        command_type: str,
        started: float,
        conflicts: int,
        result: CommandResult | None,
        error: BaseException | None,
    ) -> None:
        """One command on the cheap path ended: its latency sample, by outcome."""
        seconds = perf_counter() - started
        latencies = self._latencies.get(command_type) or self._latencies_of(command_type)
        if latencies is None:
            return
        if result is None:
            outcome = "rejected" if isinstance(error, _REFUSALS) else "failed"
        elif result.duplicate:
            outcome = "duplicate"
        else:
            outcome = "conflict_retried" if conflicts else "ok"
        series = latencies.by_outcome.get(outcome) or latencies.series(outcome)
        pending = series.pending  # `series.observe(seconds)`, in this frame
        pending.append(seconds)
        if len(pending) >= FOLD_AT:
            series.fold()

    def _latencies_of(self, command_type: str) -> _Latencies | None:
        if self._metrics is None:
            return None
        found = self._latencies[command_type] = _Latencies(
            self._metrics.command_seconds, command_type
        )
        return found

    async def observe(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult:
        """The traced path (`begin` returned None): the run inside the command's span."""
        scope = CommandScope()
        started = perf_counter()
        outcome = "failed"
        with self._tracer.start_as_current_span(
            f"command {command_type}",
            attributes={
                "eventbook.command.type": command_type,
                "eventbook.command.id": metadata.command_id,
                "eventbook.correlation_id": metadata.conversation,
            },
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            # The command's span context goes into every event's metadata.
            traced = current_trace_context()
            if traced:
                metadata = msgspec.structs.replace(metadata, extra={**metadata.extra, **traced})
            token = command_scope.set(scope)
            try:
                result = await run(metadata)
            except _REFUSALS as error:
                outcome = "rejected"
                span.set_attribute("eventbook.command.error", type(error).__name__)
                raise
            except ConcurrencyError as error:
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            else:
                outcome = _outcome(result, scope.conflicts)
                if result.stream is not None:
                    span.set_attribute("eventbook.stream", result.stream)
                    span.set_attribute("eventbook.events", len(result.event_ids))
                return result
            finally:
                command_scope.reset(token)
                span.set_attribute("eventbook.command.outcome", outcome)
                seconds = perf_counter() - started
                latencies = self._latencies.get(command_type) or self._latencies_of(command_type)
                if latencies is not None:
                    latencies.series(outcome).observe(seconds)


class _Latencies:
    """One command type's latency series by outcome, each made on first use."""

    __slots__ = ("by_outcome", "command_type", "family")

    def __init__(self, family: Histogram, command_type: str) -> None:
        self.family = family
        self.command_type = command_type
        self.by_outcome: dict[str, HistogramSeries] = {}

    def series(self, outcome: str) -> HistogramSeries:
        found = self.by_outcome.get(outcome)
        if found is None:
            found = self.by_outcome[outcome] = self.family.labels(self.command_type, outcome)
        return found


def _outcome(result: CommandResult, conflicts: int) -> str:
    if result.duplicate:
        return "duplicate"
    return "conflict_retried" if conflicts else "ok"


def observe_repository(repository: R, metrics: EventbookMetrics | None) -> R:
    """Give `repository`'s loads a span and their duration and replayed-event count."""
    if repository.observer is None:  # else observed already
        repository.observer = _LoadObserver(repository.name, metrics)
    return repository


class _LoadObserver:
    """A `Repository.observer`: a span (with an SDK) and one sample per load."""

    def __init__(self, name: str, metrics: EventbookMetrics | None) -> None:
        self._name = name
        self._spans = tracer()
        # Resolved once: the load's two series have the aggregate's name as their only
        # label; a load's two measures go in one sample.
        self._samples: Samples[LoadSample] | None = None
        if metrics is not None:
            seconds = metrics.load_seconds.labels(name)
            replayed = metrics.load_events.labels(name)

            def sort(taken: list[LoadSample]) -> None:
                durations, counts = zip(*taken, strict=True)
                seconds.observe_many(durations)
                replayed.observe_many(counts)

            self._samples = Samples(sort, [metrics.load_seconds, metrics.load_events])
        self._end: LoadEnd = self.end  # bound once: `begin` hands out the same one

    def begin(self, stream: str) -> LoadEnd | None:
        """The cheap path, with no SDK: `end`, which the repository tells when its replay
        ends. With one, None: `observe` wraps the replay in the load's span."""
        if providers._TRACER_PROVIDER is not None and tracing_configured():
            return None
        return self._end

    def end(self, started: float, events: int) -> None:
        """One load ended (told by the repository, on either path): its sample."""
        seconds = perf_counter() - started
        if (samples := self._samples) is not None:
            pending = samples.pending  # `samples.record(...)`, in this frame
            pending.append((seconds, events))
            if len(pending) >= FOLD_AT:
                samples.fold()

    async def observe(self, stream: str, rebuild: Callable[[LoadEnd], Awaitable[Any]]) -> Any:
        """The traced path (`begin` returned None): the replay inside the load's span,
        told its end by the repository as on the cheap path."""
        name = self._name
        attributes = {"eventbook.aggregate": name, "eventbook.stream": stream}
        with self._spans.start_as_current_span(f"load {name}", attributes=attributes) as span:

            def end(started: float, events: int) -> None:
                span.set_attribute("eventbook.events_replayed", events)
                self.end(started, events)

            return await rebuild(end)
