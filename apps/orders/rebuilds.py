"""Blue/green rebuilds started from the API: the next version of a read model is built
beside the live one, readers stay on the live one until it has caught up, then switch.

The version readers see is read from the projection database (`active_build`), never
from code, so a restarted service runs the build a rebuild switched to. The new build
runs in this process from then on (its runner keeps it live after the switch); the
projection daemon of the production profile takes it over when it starts again, as its
`build()` resolves the active version the same way.

A projection whose sink keeps its data outside the projection database (the Redis feed)
shares that data between builds: it cannot be built beside itself, so it is refused.

A partitioned build is built by one runner per partition, all in this process; it
switches once every partition has caught up (`switch_to` waits for each), and its
progress counts the events every partition has done and has still to do.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventbook import EventStore, RecordedEvent
from eventbook.projections import (
    BatchObserver,
    Projection,
    ProjectionRunner,
    RunnerSettings,
    RunnerState,
    SearchSink,
    SqlSink,
    drop_build,
    next_build,
    projection_status,
    setup_projection,
    switch_to,
    wait_for,
)

log = logging.getLogger("orders.rebuilds")

BLUE_GREEN_SINKS = (SqlSink, SearchSink)
"""Sinks whose builds have their own tables beside each other (`<table>_v<N>`)."""
SWITCH_TIMEOUT = 3600.0
RETIRE_GRACE = 15.0
"""How long the retired build's runner gets to notice before its tables are dropped."""


def runner_labels(projection: Projection[Any]) -> list[str]:
    """How runners name themselves in `states()`: `name@vN`, or `name@vN#p` per partition."""
    if projection.partitions == 1:
        return [projection.label]
    return [f"{projection.label}#{partition}" for partition in range(projection.partitions)]


class RebuildFailed(Exception):
    """A rebuild that was waited for ended without switching; readers stay on the old
    build (`Rebuild.error` says why)."""


class RebuildRefused(Exception):
    """A rebuild that cannot start; `code` names why for the API's problem type."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Rebuild:
    """One blue/green rebuild: where it stands, for the status API and the dashboard."""

    name: str
    from_version: int
    to_version: int
    started_at: float = field(default_factory=time.time)
    phase: str = "building"
    """building (readers on the old build) -> switching -> retiring (readers on the new
    one, the old one being dropped) -> done; or failed (readers stay on the old one)."""
    events_done: int = 0
    finished_at: float | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.phase not in ("done", "failed")

    def as_dict(self, remaining: int | None, remaining_exact: bool = True) -> dict[str, Any]:
        """Progress: events done, the rate since the start, and when it should be done."""
        elapsed = max((self.finished_at or time.time()) - self.started_at, 1e-6)
        rate = self.events_done / elapsed
        eta = None
        if remaining is not None and self.running:
            eta = 0.0 if remaining == 0 else (remaining / rate if rate > 0 else None)
        return {
            "phase": self.phase,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "events_done": self.events_done,
            "events_remaining": remaining,
            "events_remaining_exact": remaining_exact,
            "rate": round(rate, 1),
            "eta_seconds": None if eta is None else round(eta, 1),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


class Rebuilds:
    """Starts rebuilds and keeps the runners of the builds they switched to."""

    def __init__(
        self,
        store: EventStore,
        *,
        observe: Callable[[Projection[Any]], Projection[Any]],
        on_batch: BatchObserver | None,
        on_switch: Callable[[Projection[Any]], None],
        runner_states: Callable[[], dict[str, RunnerState]],
        settings: RunnerSettings | None = None,
    ) -> None:
        self._store = store
        self._observe = observe
        self._on_batch = on_batch
        self._on_switch = on_switch
        self._runner_states = runner_states
        self._settings = settings or RunnerSettings()
        self._stops: dict[str, asyncio.Event] = {}
        """Per runner label, the event that stops it (each build stops on its own)."""
        self.latest: dict[str, Rebuild] = {}
        self.building: dict[str, Projection[Any]] = {}
        """The build each running rebuild makes, by projection name."""
        self._runners: list[ProjectionRunner[Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        """The runners of builds made here, live after their switch."""
        self._rebuilding: set[asyncio.Task[None]] = set()
        self._latest_task: dict[str, asyncio.Task[None]] = {}
        """The task of the latest rebuild of each projection, for `until_done`."""

    def start(self, live: Projection[Any], definition: Projection[Any]) -> Rebuild:
        """Begin building the version after `live` (from the undecorated `definition`)."""
        if not isinstance(live.sink, BLUE_GREEN_SINKS):
            raise RebuildRefused(
                "rebuild-not-supported",
                f"{live.name} writes to {type(live.sink).__name__}, whose builds share their"
                " data (a Redis stream): it cannot be built beside the live one, and a rebuild"
                " in place would send every client the history again. It needs no rebuild:"
                " it holds only recent events.",
            )
        current = self.latest.get(live.name)
        if current is not None and current.running:
            raise RebuildRefused(
                "rebuild-in-progress",
                f"{live.name} is being rebuilt already (v{current.to_version}, {current.phase})",
            )
        new = next_build(dataclasses.replace(definition, version=live.version))
        rebuild = Rebuild(live.name, live.version, new.version)
        self.latest[live.name] = rebuild
        self.building[live.name] = new
        task = asyncio.create_task(self._run(rebuild, live, self._observe(new)))
        self._rebuilding.add(task)
        self._latest_task[live.name] = task
        task.add_done_callback(self._rebuilding.discard)
        return rebuild

    async def until_done(self, name: str) -> Rebuild | None:
        """Wait for the latest rebuild of `name` to end (None if none ran); a caller that
        gives up waiting does not stop it."""
        task = self._latest_task.get(name)
        if task is not None and not task.done():
            await asyncio.shield(task)
        return self.latest.get(name)

    async def complete(
        self, live: Callable[[], Projection[Any]], definition: Callable[[], Projection[Any]]
    ) -> Rebuild:
        """Rebuild blue/green and return once readers are switched and the old build is
        dropped. A rebuild already under way is waited for first, then a new one starts:
        it may have read history before the caller's reason to rebuild. `live` and
        `definition` are read when the rebuild starts (an earlier one changes them)."""
        while True:
            name = live().name
            await self.until_done(name)
            try:
                rebuild = self.start(live(), definition())
            except RebuildRefused as refused:
                if refused.code == "rebuild-in-progress":  # another caller started one
                    continue
                raise
            await asyncio.shield(self._latest_task[name])
            if rebuild.phase != "done":
                raise RebuildFailed(f"the rebuild of {name} failed: {rebuild.error}")
            return rebuild

    def runner_states(self) -> dict[str, RunnerState]:
        """The runners of builds made here, named as a daemon's (`runner_labels`)."""
        return {runner.label: runner.state for runner in self._runners}

    async def progress(self, name: str) -> dict[str, Any] | None:
        """The latest rebuild of `name` with its remaining events, or None if none ran."""
        rebuild = self.latest.get(name)
        if rebuild is None:
            return None
        new = self.building.get(name)
        if new is None or rebuild.phase != "building":
            return rebuild.as_dict(None if rebuild.phase == "failed" else 0)
        found = await projection_status(self._store, new)
        if found is None:
            return rebuild.as_dict(None)
        # A partitioned build's lag is its worst partition's; what is left is all of them.
        remaining = sum(p.lag_events for p in found.partitions) or found.lag_events
        return rebuild.as_dict(remaining, found.lag_exact)

    async def stop(self) -> None:
        """Stop the rebuilds under way and the runners of switched-to builds."""
        for task in self._rebuilding:  # unfinished: the next rebuild drops what it built
            task.cancel()
        await asyncio.gather(*self._rebuilding, return_exceptions=True)
        for stop in self._stops.values():
            stop.set()  # runners finish their batch in flight and release their lease
        tasks = list(self._tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._settings.shutdown_timeout)
            for task in late:  # a rebuild still waiting to switch, or a runner stuck
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, rebuild: Rebuild, live: Projection[Any], new: Projection[Any]) -> None:
        log.info("rebuilding %s beside %s", new.label, live.label)
        switched: asyncio.Task[None] | None = None
        try:
            if await new.sink.database.checkpoint(new.name, new.version) is not None:
                await drop_build(new)  # what an interrupted rebuild left
            await setup_projection(new)
            stop = self._stops[new.label] = asyncio.Event()
            counting = self._counting(rebuild)
            runners = [
                ProjectionRunner(
                    self._store,
                    new,
                    settings=self._settings,
                    stopping=stop,
                    on_batch=counting,
                    partition=partition,
                )
                for partition in range(new.partitions)
            ]
            self._runners.extend(runners)
            running = asyncio.create_task(_run_all(runners))
            self._tasks.add(running)
            running.add_done_callback(self._tasks.discard)
            switched = asyncio.create_task(self._switch(rebuild, new))
            done, _ = await asyncio.wait({running, switched}, return_when=asyncio.FIRST_COMPLETED)
            if switched not in done:  # the runner ended before the build caught up
                switched.cancel()
                error = None if running.cancelled() else running.exception()
                raise RuntimeError(f"the runner of {new.label} ended: {error!r}")
            switched.result()
            self.building.pop(new.name, None)
            self._on_switch(new)
            rebuild.phase = "retiring"
            await self._retire(live)
            rebuild.phase = "done"
            log.info("rebuilt %s: readers switched from %s", new.label, live.label)
        except asyncio.CancelledError:
            if switched is not None:
                switched.cancel()
            raise
        except Exception as error:
            rebuild.phase, rebuild.error = "failed", f"{type(error).__name__}: {error}"
            log.exception("rebuild of %s failed; readers stay on %s", new.label, live.label)
            self.building.pop(new.name, None)
            await self._abandon(new)
        finally:
            rebuild.finished_at = time.time()

    async def _switch(self, rebuild: Rebuild, new: Projection[Any]) -> None:
        """Wait until the new build has caught up, then point readers at it (`switch_to`
        waits for the head again: what was appended meanwhile)."""
        head = await self._store.head()
        if head is not None:
            await wait_for(new, head, SWITCH_TIMEOUT, store=self._store)
        rebuild.phase = "switching"
        await switch_to(self._store, new, timeout=SWITCH_TIMEOUT)

    async def _abandon(self, new: Projection[Any]) -> None:
        """Stop a failed build's runner and drop what it built; readers never saw it."""
        stop = self._stops.pop(new.label, None)
        if stop is not None:
            stop.set()
        self._runners = [r for r in self._runners if r.projection.label != new.label]
        try:
            if await new.sink.database.checkpoint(new.name, new.version) is not None:
                await drop_build(new)
        except Exception:
            log.warning("could not drop the failed build %s", new.label, exc_info=True)

    async def _retire(self, old: Projection[Any]) -> None:
        """Drop the old build once its runner in this process has seen it is retired
        (a runner elsewhere notices at its next commit or lease renewal)."""
        deadline = time.monotonic() + RETIRE_GRACE
        ended = (RunnerState.RETIRED, RunnerState.STOPPED)
        while time.monotonic() < deadline:
            known = self._runner_states()
            states = [known.get(label) for label in runner_labels(old)]
            if all(state in ended for state in states):
                break
            if None in states:  # run by another process: give it a lease renewal's time
                await asyncio.sleep(min(RETIRE_GRACE, self._settings.lease_ttl / 2))
                break
            await asyncio.sleep(0.2)
        await drop_build(old)

    def _counting(self, rebuild: Rebuild) -> BatchObserver:
        observe = self._on_batch

        def on_batch(
            projection: Projection[Any], events: Sequence[RecordedEvent], committed_at: float
        ) -> None:
            rebuild.events_done += len(events)
            if observe is not None:
                observe(projection, events, committed_at)

        return on_batch


async def _run_all(runners: Sequence[ProjectionRunner[Any]]) -> None:
    """Run a build's runners (one per partition) until they end; the first error ends
    the wait (the caller stops the others through their shared stop event)."""
    await asyncio.gather(*(runner.run() for runner in runners))
