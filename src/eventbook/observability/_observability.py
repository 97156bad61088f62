"""`Observability`: one object that instruments a store, a bus, repositories and
projections, and answers scrapes and readiness probes."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._write.commands import CommandBus
from eventbook._write.repository import Repository
from eventbook.observability._health import Check, Probe, Readiness, readiness
from eventbook.observability._metrics import EventbookMetrics
from eventbook.observability._projections import ProjectionObserver, refresh_store
from eventbook.observability._store import observe_store
from eventbook.observability._write import CommandObserver, observe_repository
from eventbook.projections._projection import Projection
from eventbook.projections._settings import RunnerState
from eventbook.projections._status import STUCK_AFTER, ProjectionStatus

log = logging.getLogger("eventbook.observability")

S = TypeVar("S", bound=EventStore)
R = TypeVar("R", bound=Repository[Any])


_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")


@contextmanager
def _counting(gauge: Gauge) -> Iterator[None]:
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


class Observability:
    """Metrics (in `registry`, a fresh one unless given) and spans for eventbook parts.

        obs = Observability()                       # or Observability(registry=REGISTRY)
        store = obs.store(await eventbook.connect(url))
        bus = obs.bus(CommandBus(store)); orders = obs.repository(Repository(...))
        builds = obs.projections(builds)
        daemon = ProjectionDaemon(store, builds, on_batch=obs.on_batch)

    With `metrics=False` only spans are made (through opentelemetry-api: no-op until an
    SDK is configured). Nothing is registered anywhere until an `Observability` is built.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        metrics: bool = True,
        stuck_after: float = STUCK_AFTER,
    ) -> None:
        if stuck_after <= 0:
            raise ValidationError(f"stuck_after must be more than 0 seconds, not {stuck_after!r}")
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = EventbookMetrics(self.registry) if metrics else None
        self.stuck_after = stuck_after
        self._commands = CommandObserver(self.metrics)
        self._projections = ProjectionObserver(self.metrics)

    def store(self, store: S) -> S:
        """Time and trace the store's appends and reads (in place; returns it)."""
        observe_store(store, self.metrics)
        return store

    def subscribed(self, kind: str) -> AbstractContextManager[None]:
        """Count a live subscription of the application's own (an SSE client, a socket)
        in `eventbook_subscriptions_connected{kind=...}` while the block runs. `kind` is
        a label: a fixed name per kind of subscriber, never a client's id."""
        if not _KIND.fullmatch(kind):
            raise ValidationError(f"a subscription kind is a short name ([a-z0-9_]), not {kind!r}")
        if self.metrics is None:
            return nullcontext()
        return _counting(self.metrics.subscriptions.labels(kind))

    def bus(self, bus: CommandBus) -> CommandBus:
        """Time and trace every command the bus dispatches (returns it)."""
        bus.observer = self._commands
        return bus

    def repository(self, repository: R) -> R:
        """Time and trace the repository's aggregate loads (in place; returns it)."""
        return observe_repository(repository, self.metrics)

    def projections(self, projections: Sequence[Projection[Any]]) -> list[Projection[Any]]:
        """The builds, instrumented; run these (handlers are traced only with an SDK)."""
        return [self._projections.observe(p) for p in projections]

    @property
    def on_batch(self) -> Any:
        """The `on_batch` observer for `ProjectionDaemon` and `ProjectionRunner`."""
        return self._projections.on_batch

    async def collect(
        self,
        store: EventStore,
        projections: Sequence[Projection[Any]],
        *,
        runner_states: Mapping[str, RunnerState] | None = None,
    ) -> list[ProjectionStatus]:
        """Read the builds' status (and PostgreSQL's horizon) into the gauges."""
        found = await self._projections.refresh(
            store, projections, stuck_after=self.stuck_after, runner_states=runner_states
        )
        try:
            await refresh_store(store, self.metrics)
        except Exception:
            log.warning("could not read the store's ordering lag", exc_info=True)
        return found

    async def readiness(
        self,
        store: EventStore,
        projections: Sequence[Projection[Any]],
        *,
        probes: Mapping[str, Probe] | None = None,
        runner_states: Mapping[str, RunnerState] | None = None,
    ) -> Readiness:
        """The store reachable, no build stuck or failed, and every extra probe passing."""
        try:
            statuses = await self.collect(store, projections, runner_states=runner_states)
        except Exception as error:
            found = await readiness(store, None, probes)
            failed = Check("projections", False, f"{type(error).__name__}: {error}"[:300])
            return Readiness((*found.checks, failed))
        return await readiness(store, statuses, probes)

    def exposition(self) -> tuple[bytes, str]:
        """The registry in the Prometheus text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
