"""The daemon: runs any number of projections, one active runner per build everywhere.

Start as many daemons as you like (processes, hosts): each build's lease lets one of
them run it; the others stand by and take over when it stops or dies. A partitioned
build has a lease per partition: the daemons share its partitions, each holding at most
its fair share (see `eventbook.projections._partitions`). SIGTERM (or
SIGINT) stops the daemon gracefully: batches in flight commit, leases are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook.projections._builds import setup_projection
from eventbook.projections._partitions import Membership, PartitionShare
from eventbook.projections._projection import Projection
from eventbook.projections._rows import new_owner
from eventbook.projections._runner import (
    BatchObserver,
    ProjectionRunner,
    RunnerSettings,
    RunnerState,
)

log = logging.getLogger("eventbook.projections")


class ProjectionDaemon:
    """Runs projections asynchronously against one event store."""

    def __init__(
        self,
        store: EventStore,
        projections: Sequence[Projection[Any]],
        *,
        settings: RunnerSettings | None = None,
        owner: str | None = None,
        on_batch: BatchObserver | None = None,
    ) -> None:
        labels = [p.label for p in projections]
        if len(set(labels)) != len(labels):
            raise ValidationError(f"a projection build is listed twice: {sorted(labels)}")
        self.store = store
        self.projections = tuple(projections)
        self.settings = settings or RunnerSettings()
        self.owner = owner or new_owner()
        self._stopping = asyncio.Event()
        self.runners: list[ProjectionRunner[Any]] = []
        self.memberships: list[Membership] = []
        for projection in self.projections:
            share = None
            if projection.partitions > 1:
                share = PartitionShare(projection.partitions)
                self.memberships.append(
                    Membership(
                        projection.sink.database,
                        projection.name,
                        projection.version,
                        self.owner,
                        share,
                        self.settings.lease_ttl,
                    )
                )
            self.runners.extend(
                ProjectionRunner(
                    store,
                    projection,
                    settings=self.settings,
                    owner=self.owner,
                    stopping=self._stopping,
                    on_batch=on_batch,
                    partition=partition,
                    share=share,
                )
                for partition in range(projection.partitions)
            )
        self._task: asyncio.Task[None] | None = None

    def states(self) -> dict[str, RunnerState]:
        """This daemon's view of each build, or each partition of a partitioned build as
        `name@vN#p` (STANDBY: another daemon holds the lease)."""
        return {runner.label: runner.state for runner in self.runners}

    def stop(self) -> None:
        """Ask every runner to finish its batch in flight, release its lease and end."""
        self._stopping.set()

    async def setup(self) -> None:
        """Create the tables of every projection build (done by `run` too)."""
        for projection in self.projections:
            await setup_projection(projection)

    async def run(self, *, handle_signals: bool = True) -> None:
        """Set the projections up, then run them until `stop()` (or SIGTERM/SIGINT)."""
        await self.setup()
        await self._serve(handle_signals)

    async def _serve(self, handle_signals: bool) -> None:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if handle_signals else ()
        for signum in signals:
            loop.add_signal_handler(signum, self._on_signal, signum)
        for membership in self.memberships:  # counted before taking any partition
            try:
                await membership.beat()
            except Exception as error:
                log.warning("daemon: first heartbeat failed: %s", error)
        tasks = [asyncio.create_task(runner.run()) for runner in self.runners]
        beats = [asyncio.create_task(m.keep(self._stopping)) for m in self.memberships]
        log.info("daemon %s running %d projection(s)", self.owner, len(self.projections))
        stop: asyncio.Task[Any] = asyncio.create_task(self._stopping.wait())
        try:
            running: set[asyncio.Task[Any]] = set(tasks)
            while running and not self._stopping.is_set():
                done, running = await asyncio.wait(
                    running | {stop}, return_when=asyncio.FIRST_COMPLETED
                )
                running.discard(stop)
                for task in done - {stop}:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("daemon: a runner crashed", exc_info=task.exception())
            if running:
                _, late = await asyncio.wait(running, timeout=self.settings.shutdown_timeout)
                for task in late:
                    log.warning("daemon: cancelling a runner that did not stop in time")
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        finally:
            self._stopping.set()
            stop.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*beats, return_exceptions=True)  # they leave, then end
            for signum in signals:
                loop.remove_signal_handler(signum)
        log.info("daemon %s stopped", self.owner)

    def _on_signal(self, signum: int) -> None:
        log.info("daemon: %s received, finishing batches in flight", signal.Signals(signum).name)
        self.stop()

    async def __aenter__(self) -> Self:
        """Set up, then run in the background of the current task (tests, embedding)."""
        await self.setup()
        self._task = asyncio.create_task(self._serve(handle_signals=False))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
