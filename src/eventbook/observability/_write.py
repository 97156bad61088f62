"""Observing the write side: each command dispatched, each aggregate loaded.

The command's span is current while its handler runs, so the aggregate load and the
append become its children, and its W3C trace context is copied into the metadata of
every event it stores (`traceparent`), where a projection finds it later. Without an
SDK no span is made: the bus and the repository run the work in their own calls
between an observer's `begin` and the watch's `end` (no coroutine of ours: each would
cost more than what it measures), `tracing_configured()` is asked once per command, and
the whole cost is a couple of clock reads and one sample (a tuple appended to a list:
the labels are looked up when scraped).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import Token
from itertools import groupby
from operator import itemgetter
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
from eventbook._write.repository import Repository
from eventbook.observability._instruments import HistogramSeries, Samples
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._scope import (
    CommandScope,
    LoadScope,
    command_scope,
    load_scope,
)
from eventbook.observability._tracing import (
    caller_context,
    current_trace_context,
    tracer,
    tracing_configured,
)

R = TypeVar("R", bound=Repository[Any])
LoadSample = tuple[float, int]
"""One aggregate load: its duration and the events it replayed."""

_REFUSALS = (DomainError, CommandValidationError, ValidationError, CommandIdReused)


CommandSample = tuple[str, str, float]
"""One command: its type, its outcome and its duration."""


class CommandObserver:
    """A `CommandBus.observer`: a span and a latency sample per command, by outcome."""

    def __init__(self, metrics: EventbookMetrics | None) -> None:
        self._metrics = metrics
        self._tracer = tracer()
        self._latency: dict[tuple[str, str], HistogramSeries] = {}
        # Label look-ups wait for the scrape: a command only appends its sample.
        self._samples: Samples[CommandSample] | None = (
            Samples(self._sort, [metrics.command_seconds]) if metrics is not None else None
        )

    def begin(self, command_type: str, metadata: CommandMetadata) -> _Watch | None:
        """The cheap path, with no SDK: the bus runs the command in its own call and ends
        the returned watch. With one, None: `observe` wraps the run in the command's span."""
        if tracing_configured():
            return None
        # No SDK, so no span of ours; a caller's may be current all the same (an HTTP
        # request continuing an incoming `traceparent`): it goes into the events' metadata.
        if caller_context():
            traced = current_trace_context()
            if traced:
                metadata = msgspec.structs.replace(metadata, extra={**metadata.extra, **traced})
        watch = _Watch(command_type, metadata, self._samples)
        watch.token = command_scope.set(watch)
        watch.started = perf_counter()
        return watch

    async def observe(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult:
        """The traced path (`begin` returned None): the run inside the command's span."""
        scope = CommandScope(traced=True)
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
                outcome = _outcome(result, scope)
                if result.stream is not None:
                    span.set_attribute("eventbook.stream", result.stream)
                    span.set_attribute("eventbook.events", len(result.event_ids))
                return result
            finally:
                command_scope.reset(token)
                span.set_attribute("eventbook.command.outcome", outcome)
                if (samples := self._samples) is not None:
                    samples.record((command_type, outcome, perf_counter() - started))

    def _sort(self, samples: list[CommandSample]) -> None:
        assert self._metrics is not None  # sampled only with metrics
        samples.sort()  # by type and outcome: each series' samples in one run
        for key, run in groupby(samples, _SERIES):
            series = self._latency.get(key)
            if series is None:
                series = self._latency[key] = self._metrics.command_seconds.labels(*key)
            series.observe_many(list(map(_SECONDS, run)))


_SERIES = itemgetter(0, 1)
_SECONDS = itemgetter(2)
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)


def _outcome(result: CommandResult, scope: CommandScope) -> str:
    if result.duplicate:
        return "duplicate"
    return "conflict_retried" if scope.conflicts else "ok"


class _Watch(CommandScope):
    """One command on the cheap path: the command's scope (what the store's wrappers
    report to) and what its sample needs, in one object."""

    __slots__ = ("command_type", "metadata", "samples", "started", "token")

    def __init__(
        self,
        command_type: str,
        metadata: CommandMetadata,
        samples: Samples[CommandSample] | None,
    ) -> None:
        self.traced = False
        self.conflicts = 0
        self.command_type = command_type
        self.metadata = metadata
        self.samples = samples
        self.started = 0.0
        self.token: Token[CommandScope | None] | None = None

    def end(self, result: CommandResult | None, error: BaseException | None) -> None:
        if self.token is not None:
            command_scope.reset(self.token)
        if result is not None:
            outcome = _outcome(result, self)
        else:
            outcome = "rejected" if isinstance(error, _REFUSALS) else "failed"
        if (samples := self.samples) is not None:
            samples.record((self.command_type, outcome, perf_counter() - self.started))


def observe_repository(repository: R, metrics: EventbookMetrics | None) -> R:
    """Give `repository`'s loads a span and their duration and replayed-event count."""
    if repository.observer is None:  # else observed already
        repository.observer = _LoadObserver(repository.name, metrics)
    return repository


class _LoadWatch(LoadScope):
    """One load on the cheap path: its scope (the store's page reads add their events to
    it) and its sample, in one object."""

    __slots__ = ("samples", "started", "token")

    def __init__(self, samples: Samples[LoadSample] | None) -> None:
        self.events = 0
        self.read_to = 0
        self.samples = samples
        self.started = 0.0
        self.token: Token[LoadScope | None] | None = None

    def end(self) -> None:
        if self.token is not None:
            load_scope.reset(self.token)
        if (samples := self.samples) is not None:
            samples.record((perf_counter() - self.started, self.events))


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
                seconds.observe_many(list(map(_FIRST, taken)))
                replayed.observe_many(list(map(_SECOND, taken)))

            self._samples = Samples(sort, [metrics.load_seconds, metrics.load_events])

    def begin(self, stream: str) -> _LoadWatch | None:
        # The command's answer to `tracing_configured()`, or a fresh one outside it.
        command = command_scope.get()
        if command.traced if command is not None else tracing_configured():
            return None
        watch = _LoadWatch(self._samples)
        watch.token = load_scope.set(watch)
        watch.started = perf_counter()
        return watch

    async def observe(self, stream: str, rebuild: Callable[[], Awaitable[Any]]) -> Any:
        """The traced path (`begin` returned None): the replay inside the load's span."""
        name = self._name
        attributes = {"eventbook.aggregate": name, "eventbook.stream": stream}
        with self._spans.start_as_current_span(f"load {name}", attributes=attributes) as span:
            scope = LoadScope()
            token = load_scope.set(scope)
            started = perf_counter()
            try:
                aggregate = await rebuild()
            finally:
                load_scope.reset(token)
            span.set_attribute("eventbook.events_replayed", scope.events)
            if (samples := self._samples) is not None:
                samples.record((perf_counter() - started, scope.events))
            return aggregate
