"""Observing the write side: each command dispatched, each aggregate loaded.

The command's span is current while its handler runs, so the aggregate load and the
append become its children, and its W3C trace context is copied into the metadata of
every event it stores (`traceparent`), where a projection finds it later. Without an
SDK no span is made: each wrapper takes a short path (`tracing_configured()` asked once
per command) whose whole cost is a couple of clock reads and a sample per series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
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
from eventbook._write.repository import Repository
from eventbook.observability._instruments import HistogramSeries
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import (
    CommandScope,
    LoadScope,
    command_scope,
    load_scope,
    spans_wanted,
)
from eventbook.observability._tracing import (
    current_trace_context,
    tracer,
    tracing_configured,
)

R = TypeVar("R", bound=Repository[Any])

_REFUSALS = (DomainError, CommandValidationError, ValidationError, CommandIdReused)


class CommandObserver:
    """A `CommandBus.observer`: a span and a latency sample per command, by outcome."""

    def __init__(self, metrics: EventbookMetrics | None) -> None:
        self._metrics = metrics
        self._tracer = tracer()
        self._latency: dict[tuple[str, str], HistogramSeries] = {}

    async def observe(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult:
        if tracing_configured():
            return await self._traced(command_type, metadata, run)
        # No SDK, so no span of ours; a caller's may be current all the same (an HTTP
        # request continuing an incoming `traceparent`): it goes into the events' metadata.
        traced = current_trace_context()
        if traced:
            metadata = msgspec.structs.replace(metadata, extra={**metadata.extra, **traced})
        scope = CommandScope(traced=False)
        token = command_scope.set(scope)
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await run(metadata)
            outcome = _outcome(result, scope)
            return result
        except _REFUSALS:
            outcome = "rejected"
            raise
        finally:
            command_scope.reset(token)
            self._sample(command_type, outcome, time.perf_counter() - started)

    async def _traced(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult:
        scope = CommandScope(traced=True)
        started = time.perf_counter()
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
                outcome = _outcome(result, scope)
                if result.stream is not None:
                    span.set_attribute("eventbook.stream", result.stream)
                    span.set_attribute("eventbook.events", len(result.event_ids))
                return result
            finally:
                command_scope.reset(token)
                span.set_attribute("eventbook.command.outcome", outcome)
                self._sample(command_type, outcome, time.perf_counter() - started)

    def _sample(self, command_type: str, outcome: str, seconds: float) -> None:
        if self._metrics is None:
            return
        key = (command_type, outcome)
        series = self._latency.get(key)
        if series is None:
            series = self._latency[key] = self._metrics.command_seconds.labels(*key)
        series.observe(seconds)


def _outcome(result: CommandResult, scope: CommandScope) -> str:
    if result.duplicate:
        return "duplicate"
    return "conflict_retried" if scope.conflicts else "ok"


def observe_repository(repository: R, metrics: EventbookMetrics | None) -> R:
    """Give `repository.load` a span and its duration and replayed-event count."""
    if "load" in vars(repository):
        return repository  # observed already
    load = repository.load
    name = repository.name
    spans = tracer()

    # Resolved once: the load's two series have the aggregate's name as their only label.
    seconds = metrics.load_seconds.labels(name) if metrics is not None else None
    replayed = metrics.load_events.labels(name) if metrics is not None else None

    async def observed_load(stream: str, **options: Any) -> Any:
        if spans_wanted():
            return await traced_load(stream, **options)
        scope = LoadScope()
        token = load_scope.set(scope)
        started = time.perf_counter()
        try:
            aggregate = await load(stream, **options)
        finally:
            load_scope.reset(token)
        if seconds is not None and replayed is not None:
            seconds.observe(time.perf_counter() - started)
            replayed.observe(scope.events)
        return aggregate

    async def traced_load(stream: str, **options: Any) -> Any:
        attributes = {"eventbook.aggregate": name, "eventbook.stream": stream}
        with spans.start_as_current_span(f"load {name}", attributes=attributes) as span:
            scope = LoadScope()
            token = load_scope.set(scope)
            started = time.perf_counter()
            try:
                aggregate = await load(stream, **options)
            finally:
                load_scope.reset(token)
            span.set_attribute("eventbook.events_replayed", scope.events)
            if seconds is not None and replayed is not None:
                seconds.observe(time.perf_counter() - started)
                replayed.observe(scope.events)
            return aggregate

    vars(repository)["load"] = observed_load
    return repository
