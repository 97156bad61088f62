"""One projection's loop: take the lease, catch up, follow live; retry, park, fence.

A batch is read with `store.read_all_page`, handed to the handlers (which only record
writes), and committed with its checkpoint in one transaction. While a full batch
commits, the next page is already being read (where the database says that pays). A
failing event is isolated from its batch, retried with backoff and finally parked; a
commit that finds the lease taken rolls back and the runner goes back to waiting for
the lease. A sink that cannot be reached is not the event's fault: the runner waits for
it with backoff (state WAITING), parking nothing and leaving the checkpoint where it is.

A partitioned build has one runner per partition (see `Projection.partitions`): each
reads the same pages, handles the events of its own partition and moves its own
checkpoint over the others, under its own lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Generic

from eventbook._errors import LeaseLost, ProjectionHalted, UnknownProjection, ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import Position, RecordedEvent
from eventbook.projections._outages import WAITING_PREFIX, outage_of
from eventbook.projections._partitions import PartitionShare
from eventbook.projections._ports import CheckpointMove, ParkedEvent, ParkedStatus, Session
from eventbook.projections._projection import BatchUpcaster, C, OnFailure, Projection
from eventbook.projections._rows import new_owner
from eventbook.projections._settings import (
    BatchObserver,
    RunnerSettings,
    RunnerState,
    describe,
)

__all__ = ["BatchObserver", "ProjectionRunner", "RunnerSettings", "RunnerState", "describe"]

log = logging.getLogger("eventbook.projections")


class _Failed(Exception):
    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.index = index
        self.cause = cause


async def _first_failing_upcast(
    upcast_batch: BatchUpcaster,
    events: Sequence[RecordedEvent],
    error: Exception,
) -> _Failed:
    """The event a batch upcast fails on, found by upcasting one event at a time, so that
    the events before it are not retried or parked for its fault."""
    for index, event in enumerate(events):
        try:
            await upcast_batch([event])
        except Exception as own:
            return _Failed(index, own)
    return _Failed(0, error)  # only the batch as a whole fails: the first event takes it


class _Stopping(Exception):
    """Raised inside the loop when a stop was requested during a retry pause."""


class _Yielding(Exception):
    """Raised inside the loop when this daemon holds more partitions than its share."""


class ProjectionRunner(Generic[C]):
    """Runs one projection build (or one partition of it) until asked to stop (or, with
    `until`, until caught up). `share`, given by a daemon, caps how many partitions of
    the build this process holds (see `eventbook.projections._partitions`)."""

    def __init__(
        self,
        store: EventStore,
        projection: Projection[C],
        *,
        settings: RunnerSettings | None = None,
        owner: str | None = None,
        stopping: asyncio.Event | None = None,
        on_batch: BatchObserver | None = None,
        partition: int = 0,
        share: PartitionShare | None = None,
    ) -> None:
        if not 0 <= partition < projection.partitions:
            raise ValidationError(
                f"{projection.label} has {projection.partitions} partition(s);"
                f" there is no partition {partition}"
            )
        self.store = store
        self.projection = projection
        self.settings = settings or RunnerSettings()
        self.owner = owner or new_owner()
        self.state = RunnerState.STANDBY
        self.position: Position | None = None
        self._stopping = stopping or asyncio.Event()
        self._on_batch = on_batch
        self.partition = partition
        self._share = share
        self._partitioned = projection.partitions > 1
        self.label = projection.label + (f"#{partition}" if self._partitioned else "")
        """`name@vN`, or `name@vN#p` for partition p of a partitioned build."""
        self._db = projection.sink.database
        # The store's append signal (see `AppendSignal`): a ticket taken before a read
        # makes the wait after it return at once if an append landed in between.
        self._appends = store.append_signal
        self._batch_size = projection.batch_size or self.settings.batch_size
        self._halted = False
        self._renewed_at = 0.0
        self._outages = 0  # consecutive waits for an unreachable sink
        self.waiting_for: str | None = None
        """What the runner waits for while its state is WAITING ("Redis", ...)."""

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, *, until: Position | None = None) -> None:
        """Hold the lease when free and process; return on stop (or once at `until`)."""
        p, s, label = self.projection, self.settings, self.label
        failures = 0
        while not self._stopping.is_set():
            if not await self._within_share():
                continue
            try:
                session = await self._db.acquire(
                    p.name, p.version, self.owner, s.lease_ttl, partition=self.partition
                )
            except UnknownProjection:
                log.warning("%s: no longer registered (dropped); runner ends", label)
                break
            except Exception as error:
                self._drop_share()
                failures += 1
                outage = self._note_outage(error)
                if not outage:
                    log.exception("%s: could not try the lease", label)
                await self._pause(self._outage_delay() if outage else _backoff(failures))
                continue
            if session is None:
                self._drop_share()
                if await self._standby(until):
                    return
                continue
            log.info("%s: lease taken by %s (epoch %d)", label, self.owner, session.epoch)
            try:
                if await self._work(session, until):
                    return
                failures = 0
            except _Yielding:
                log.info("%s: handed back to share the partitions with other daemons", label)
                self.state = RunnerState.STANDBY
            except LeaseLost as lost:
                if await self._retired_on(lost):
                    return
            except ProjectionHalted:
                self.state = RunnerState.FAILED
                raise
            except Exception as error:
                failures += 1
                outage = self._note_outage(error)
                if not outage:
                    log.exception("%s: runner failed; will take the lease again", label)
                await self._pause(self._outage_delay() if outage else _backoff(failures))
            finally:
                await _quietly(session.release(), "release the lease")
                self._drop_share()
            if self.state is RunnerState.STANDBY:  # yielded: leave the partition to others
                await self._pause(s.acquire_interval or s.lease_ttl / 4)
        self.state = RunnerState.STOPPED

    async def _retired_on(self, lost: LeaseLost) -> bool:
        """Whether the lease was lost because this build was retired (or dropped), as a
        switch to a newer build does: not a takeover, so the runner ends (True)."""
        p = self.projection
        try:
            row = await self._db.checkpoint(p.name, p.version, partition=self.partition)
            retired = row is None or row.retired
        except Exception:
            retired = False  # unknown: report the lost lease
        if retired:
            log.info("%s: retired (a newer build is active); runner ends", self.label)
            self.state = RunnerState.RETIRED
            return True
        log.warning("%s: %s", self.label, lost)
        return False

    async def _within_share(self) -> bool:
        """Whether this daemon may try this partition's lease now (it holds less than its
        share of the build's partitions); if not, wait a while first."""
        if self._share is None or self._share.take(self.partition):
            return True
        self.state = RunnerState.STANDBY
        await self._pause(self.settings.acquire_interval or self.settings.lease_ttl / 4)
        return False

    async def _standby(self, until: Position | None) -> bool:
        """Another runner holds the lease: wait a while, or say (True) that this one ends."""
        p = self.projection
        row = await self._db.checkpoint(p.name, p.version, partition=self.partition)
        if row is not None and row.retired:
            log.info("%s: retired (a newer build is active); runner ends", self.label)
            self.state = RunnerState.RETIRED
            return True
        reached = row.position if row is not None else None
        if until is not None and reached is not None and reached >= until:
            return True  # another runner took the lease and got there
        self.state = RunnerState.STANDBY
        await self._pause(self.settings.acquire_interval or self.settings.lease_ttl / 4)
        return False

    def _drop_share(self) -> None:
        if self._share is not None:
            self._share.drop(self.partition)

    # -- the loop under a lease ------------------------------------------------------------

    async def _work(self, session: Session, until: Position | None) -> bool:
        """Process until stopped (False) or, with `until`, until caught up (True)."""
        row = await session.load()
        self.position = row.position
        if row.position is None:
            # A build starting from scratch: clear what an earlier run left outside the
            # database (a Redis feed). Under the lease, so no other runner writes now.
            await self.projection.sink.clear(self.projection.version, session.epoch)
        self._halted = await session.halted() is not None
        self._renewed_at = time.monotonic()
        types, categories = self.projection.read_filter()
        filtered = types is not None or categories is not None
        ahead: asyncio.Task[list[RecordedEvent]] | None = None
        try:
            while not self._stopping.is_set():
                if until is not None and self.position is not None and self.position >= until:
                    return True
                if self._share is not None and self._share.should_yield(self.partition):
                    raise _Yielding
                if self._halted:
                    await self._while_halted(session, until)
                    continue
                ticket, head = None, None
                if ahead is not None:
                    events, ahead = await ahead, None
                else:
                    ticket = self._appends.ticket()
                    head = await self.store.head() if filtered else None
                    events = await self._read(self.position, self._batch_size)
                if not events:
                    if head is not None and (self.position is None or head > self.position):
                        # Nothing this projection handles up to `head`: move past it all.
                        await self._commit(session, [], None, head)
                    if until is not None:
                        return True
                    self.state = RunnerState.LIVE
                    if ticket is not None:
                        await self._idle(session, ticket)
                    continue
                full = len(events) >= self._batch_size
                if not full and self.settings.max_wait > 0 and ticket is not None:
                    events = await self._fill(events)
                    full = len(events) >= self._batch_size
                self.state = RunnerState.CATCHING_UP if full else RunnerState.LIVE
                upto = events[-1].position
                if head is not None and not full and head > upto:
                    upto = head
                if self._partitioned:  # the others' events: the checkpoint moves over them
                    events = [
                        e for e in events if self.projection.partition_of(e) == self.partition
                    ]
                ahead = await self._process(
                    session, events, upto, read_ahead=full and self._db.read_ahead
                )
        except _Stopping:
            return False
        finally:
            if ahead is not None:
                ahead.cancel()
        return False

    async def _while_halted(self, session: Session, until: Position | None) -> None:
        if not await self._resume(session):
            if until is not None:  # a catch-up cannot get past it: say so
                raise ProjectionHalted(self.label)
            self.state = RunnerState.FAILED
            await self._pause(self.settings.poll_interval)
            await self._renew_if_due(session)

    async def _read(self, after: Position | None, limit: int) -> list[RecordedEvent]:
        types, categories = self.projection.read_filter()
        return await self.store.read_all_page(
            after=after, limit=limit, types=types, categories=categories
        )

    async def _fill(self, events: list[RecordedEvent]) -> list[RecordedEvent]:
        deadline = time.monotonic() + self.settings.max_wait
        while len(events) < self._batch_size and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ticket = self._appends.ticket()
            more = await self._read(events[-1].position, self._batch_size - len(events))
            if more:
                events = events + more
                continue
            await self._until_stop(self._appends.wait(ticket, remaining))
        return events

    async def _idle(self, session: Session, ticket: int) -> None:
        timeout = min(self.settings.poll_interval, self.settings.lease_ttl / 3)
        await self._until_stop(self._appends.wait(ticket, timeout))
        await self._renew_if_due(session)

    async def _renew_if_due(self, session: Session) -> None:
        if time.monotonic() - self._renewed_at > self.settings.lease_ttl / 3:
            await session.renew()
            self._renewed_at = time.monotonic()

    # -- one batch ---------------------------------------------------------------------------

    async def _process(
        self, session: Session, events: list[RecordedEvent], upto: Position, *, read_ahead: bool
    ) -> asyncio.Task[list[RecordedEvent]] | None:
        """Handle and commit a batch; on failure isolate the bad event. Returns the
        read-ahead of the next page when the batch committed whole."""
        try:
            batch = await self._handle(session, events)
        except _Failed as failure:
            await self._recover(session, events, failure.index, failure.cause)
            return None
        ahead = asyncio.ensure_future(self._read(upto, self._batch_size)) if read_ahead else None
        try:
            await self._commit(session, events, batch, upto)
        except Exception as error:
            if ahead is not None:
                ahead.cancel()
            if isinstance(error, LeaseLost):
                raise
            if outage_of(error) is not None:  # not the batch's fault: try it again later
                await _quietly(session.rollback(), "roll back")
                await self._wait_for_sink(session, error)
                return None
            # A bad write (we cannot tell whose) or the database: find out which.
            await _quietly(session.rollback(), "roll back")
            await session.renew()  # raises LeaseLost if that is what happened
            if len(events) == 1:
                await self._retry_or_park(session, events[0], error)
            else:
                await self._one_by_one(session, events)
            return None
        return ahead

    async def _handle(self, session: Session, events: Sequence[RecordedEvent]) -> C:
        projection = self.projection
        batch = projection.sink.begin(session, projection.version)
        handlers = projection.handlers
        upcast = projection.upcast
        if projection.upcast_batch is not None:
            try:
                events = await projection.upcast_batch(events)
            except Exception as error:
                raise await _first_failing_upcast(projection.upcast_batch, events, error) from error
        get = handlers.get
        renew_at = self._renewed_at + self.settings.lease_ttl / 3
        for index, stored in enumerate(events):
            if time.monotonic() > renew_at:  # a slow batch keeps its lease
                await self._renew_if_due(session)
                renew_at = self._renewed_at + self.settings.lease_ttl / 3
            try:
                event = stored if upcast is None else upcast(stored)
                handler = get(event.type)
                if handler is not None and (result := handler(event, batch)) is not None:
                    await result
            except Exception as error:
                raise _Failed(index, error) from error
        return batch

    async def _commit(
        self, session: Session, events: Sequence[RecordedEvent], batch: C | None, upto: Position
    ) -> None:
        writes = await self.projection.sink.flush(batch) if batch is not None else None
        await session.commit(writes, CheckpointMove(self.position, upto))
        self.position = upto
        self._renewed_at = time.monotonic()
        if self._outages:
            log.warning("%s: %s is back; going on", self.label, self.waiting_for)
            self._outages, self.waiting_for = 0, None
        self._db.progress.notify()
        if self._on_batch is not None and events:
            try:
                self._on_batch(self.projection, events, time.time())
            except Exception:  # the batch is committed: a failing observer changes nothing
                log.exception("%s: on_batch callback failed", self.label)

    async def _recover(
        self, session: Session, events: list[RecordedEvent], index: int, cause: Exception
    ) -> None:
        await _quietly(session.rollback(), "roll back")
        if index > 0:
            good = events[:index]
            await self._process(session, good, good[-1].position, read_ahead=False)
            if self.position != good[-1].position or self._halted:
                return  # the prefix met its own trouble; the loop reads on from the checkpoint
        await self._retry_or_park(session, events[index], cause)

    async def _one_by_one(self, session: Session, events: list[RecordedEvent]) -> None:
        for event in events:
            await self._process(session, [event], event.position, read_ahead=False)
            if self.position != event.position or self._halted:
                return

    async def _retry_or_park(
        self, session: Session, event: RecordedEvent, error: Exception
    ) -> None:
        policy = self.projection.retry
        label = self.label
        attempts = 1
        if outage_of(error) is not None:
            await self._wait_for_sink(session, error)
            return
        while attempts < policy.max_attempts:
            log.warning(
                "%s: %s %s failed (attempt %d of %d): %s",
                label,
                event.type,
                event.id,
                attempts,
                policy.max_attempts,
                error,
            )
            await session.record_error(describe(error))
            await self._pause_holding(session, policy.delay(attempts))
            try:
                batch = await self._handle(session, [event])
                await self._commit(session, [event], batch, event.position)
                return
            except LeaseLost:
                raise
            except _Failed as failure:
                error = failure.cause
            except Exception as failure:
                error = failure
            await _quietly(session.rollback(), "roll back")
            if outage_of(error) is not None:  # the sink went away meanwhile: no attempt lost
                await self._wait_for_sink(session, error)
                return
            attempts += 1
        stop = policy.on_failure is OnFailure.STOP
        parked = ParkedEvent(
            name=self.projection.name,
            version=self.projection.version,
            event_id=event.id,
            position=event.position,
            stream=event.stream,
            type=event.type,
            error=describe(error),
            attempts=attempts,
            parked_at=time.time(),
            status=ParkedStatus.HALTED if stop else ParkedStatus.PARKED,
            partition=self.partition,
        )
        if stop:
            await session.commit(None, None, park=parked)
            self._halted = True
            self.state = RunnerState.FAILED
        else:
            await session.commit(None, CheckpointMove(self.position, event.position), park=parked)
            self.position = event.position
            self._db.progress.notify()
        # The traceback goes to the log (with the event's correlation id), where operators
        # look; what APIs serve of the stored error need be no more than its first line.
        log.error(
            "%s: parked %s %s at %s (correlation id %s) after %d attempts%s: %s",
            label,
            event.type,
            event.id,
            event.position,
            event.metadata.get("correlation_id"),
            attempts,
            "; projection halted" if stop else "",
            error,
            exc_info=error,
        )

    async def _resume(self, session: Session) -> bool:
        """A halted runner resumes once the operator retried (row gone) or discarded it."""
        halted = await session.halted()
        if halted is None:
            self._halted = False
            return True
        if halted.status is ParkedStatus.DISCARD:
            move = CheckpointMove(self.position, halted.position)
            await session.commit(None, move, unpark=halted.event_id)
            self.position = halted.position
            self._halted = False
            return True
        return False

    # -- waiting -------------------------------------------------------------------------------

    def _note_outage(self, error: Exception) -> bool:
        """If `error` says a sink cannot be reached, say so (without a traceback: it is
        not a bug) and enter WAITING; the caller backs off and tries again."""
        source = outage_of(error)
        if source is None:
            return False
        self._outages += 1
        self.state, self.waiting_for = RunnerState.WAITING, source
        log.warning("%s: waiting for %s: %s", self.label, source, error)
        return True

    async def _wait_for_sink(self, session: Session, error: Exception) -> None:
        """Wait, holding the lease, before the batch is tried again from the checkpoint:
        backoff from 0.1 s up to 5 s, for as long as the sink stays away."""
        self._note_outage(error)
        await _quietly(
            session.record_error(f"{WAITING_PREFIX}{self.waiting_for}: {describe(error)}"),
            "record the outage",
        )
        await self._pause_holding(session, self._outage_delay())

    def _outage_delay(self) -> float:
        return min(5.0, 0.1 * 2.0 ** min(self._outages - 1, 6))

    async def _pause_holding(self, session: Session, seconds: float) -> None:
        """Pause for `seconds` (a retry's backoff), renewing the lease meanwhile: a backoff
        longer than the lease must not hand the event to another runner, which would start
        its attempts over (and so never park it)."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            await self._pause(
                max(0.0, min(remaining, self.settings.lease_ttl / 3)), raise_on_stop=True
            )
            await session.renew()  # raises LeaseLost if another runner took over anyway
            self._renewed_at = time.monotonic()
            if self._renewed_at >= deadline:
                return

    async def _pause(self, seconds: float, *, raise_on_stop: bool = False) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return
        if raise_on_stop:
            raise _Stopping

    async def _until_stop(self, waiting: Any) -> None:
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stop):
                pending.cancel()


def _backoff(failures: int) -> float:
    return float(min(30.0, 0.5 * 2 ** min(failures, 6)))


async def _quietly(action: Any, what: str) -> None:
    try:
        await action
    except Exception as error:
        log.debug("could not %s: %s", what, error)
