"""Observing the write side: each command dispatched, each aggregate loaded.

The command's span is current while its handler runs, so the aggregate load and the
append become its children, and its W3C trace context is copied into the metadata of
every event it stores (`traceparent`), where a projection finds it later.
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
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import (
    CommandScope,
    LoadScope,
    command_scope,
    load_scope,
    spans_wanted,
)
from eventbook.observability._tracing import (
    NO_SPAN,
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

    async def observe(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult:
        scope = CommandScope(traced=tracing_configured())
        started = time.perf_counter()
        outcome = "failed"
        with (
            self._tracer.start_as_current_span(
                f"command {command_type}",
                attributes={
                    "eventbook.command.type": command_type,
                    "eventbook.command.id": metadata.command_id,
                    "eventbook.correlation_id": metadata.conversation,
                },
                record_exception=False,
                set_status_on_exception=False,
            )
            if scope.traced
            else NO_SPAN
        ) as span:
            # The command's span, or without an SDK a caller's (an HTTP request continuing
            # an incoming `traceparent`): its context goes into every event's metadata.
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
                outcome = "failed"
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            else:
                if result.duplicate:
                    outcome = "duplicate"
                elif scope.conflicts:
                    outcome = "conflict_retried"
                else:
                    outcome = "ok"
                if result.stream is not None and span.is_recording():
                    span.set_attribute("eventbook.stream", result.stream)
                    span.set_attribute("eventbook.events", len(result.event_ids))
                return result
            finally:
                command_scope.reset(token)
                span.set_attribute("eventbook.command.outcome", outcome)
                if self._metrics is not None:
                    self._metrics.command_seconds.labels(command_type, outcome).observe(
                        time.perf_counter() - started
                    )


def observe_repository(repository: R, metrics: EventbookMetrics | None) -> R:
    """Give `repository.load` a span and its duration and replayed-event count."""
    if "load" in vars(repository):
        return repository  # observed already
    load = repository.load
    name = repository.name
    spans = tracer()

    async def observed_load(stream: str, **options: Any) -> Any:
        started = time.perf_counter()
        with (
            spans.start_as_current_span(
                f"load {name}", attributes={"eventbook.aggregate": name, "eventbook.stream": stream}
            )
            if spans_wanted()
            else NO_SPAN
        ) as span:
            scope = LoadScope()
            token = load_scope.set(scope)
            try:
                aggregate = await load(stream, **options)
            finally:
                load_scope.reset(token)
            span.set_attribute("eventbook.events_replayed", scope.events)
            if metrics is not None:
                metrics.load_seconds.labels(name).observe(time.perf_counter() - started)
                metrics.load_events.labels(name).observe(scope.events)
            return aggregate

    vars(repository)["load"] = observed_load
    return repository
