"""Snapshots: when to take them, and taking and restoring them without ever failing a command.

A snapshot is an optimisation. Taking one after a save is best effort (a failure is
logged and counted, the command has succeeded regardless); restoring one that cannot be
read falls back to replaying the whole stream. Snapshots are stored under a schema tag
(`Order:3`), so changing an aggregate's snapshot version retires every older snapshot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._write.aggregate import Aggregate, Bookkeeping
from eventbook._write.messages import EventRegistry

log = logging.getLogger("eventbook.snapshots")

A = TypeVar("A", bound=Aggregate[Any])


class SnapshotPolicy(Protocol):
    """Decides after a save whether to snapshot the aggregate now."""

    def __call__(self, aggregate: Any, events_since_snapshot: int) -> bool: ...


def snapshot_every(events: int) -> SnapshotPolicy:
    """Snapshot once `events` events have been stored since the last snapshot."""
    if isinstance(events, bool) or not isinstance(events, int) or events < 1:
        raise ValidationError(f"snapshot_every needs a positive number of events, not {events!r}")

    def every(aggregate: Any, events_since_snapshot: int) -> bool:
        return events_since_snapshot >= events

    return every


@dataclass
class SnapshotStats:
    """Counters of one repository's snapshots (read them for metrics)."""

    taken: int = 0
    failed: int = 0
    """Snapshots that could not be taken; the commands that triggered them succeeded."""
    unusable: int = 0
    """Stored snapshots that could not be restored; the stream was replayed instead."""


class Snapshotter:
    """Takes and restores the snapshots of one kind of aggregate."""

    def __init__(
        self,
        store: EventStore,
        schema: str,
        policy: SnapshotPolicy,
        states: EventRegistry | None = None,
    ) -> None:
        if not callable(policy):
            raise ValidationError("the snapshot policy must be callable (use snapshot_every(n))")
        self.store = store
        self.schema = schema
        self.policy = policy
        self.states = states
        """Seals and opens states (the registry's stages: personal data is encrypted)."""
        self.stats = SnapshotStats()

    async def restore(self, new: Callable[[], A], max_version: int | None) -> A | None:
        """A fresh aggregate from `new()` restored from the newest usable snapshot, or None."""
        aggregate = new()
        snapshot = await self.store.load_snapshot(
            aggregate.stream, schema=self.schema, max_version=max_version
        )
        if snapshot is None:
            return None
        state = snapshot.state
        if self.states is not None:
            opened = await self.states.open_state(aggregate.stream, snapshot.state)
            if opened is None:  # e.g. it holds personal data of a forgotten subject
                return None
            state = opened
        try:
            aggregate.restore_snapshot(state)
            Bookkeeping.of(aggregate).restored(snapshot.version)
        except Exception:
            self.stats.unusable += 1
            log.warning(
                "snapshot %s of %r at version %d cannot be restored; replaying the stream",
                self.schema,
                aggregate.stream,
                snapshot.version,
                exc_info=True,
            )
            return None
        return aggregate

    async def after_save(self, aggregate: Aggregate[Any]) -> None:
        """Take a snapshot if the policy says so. Never raises (except on cancellation)."""
        book = Bookkeeping.of(aggregate)
        since = book.version - book.snapshot_at
        try:
            if not self.policy(aggregate, since):
                return
            state = aggregate.to_snapshot()
            if self.states is not None:
                state = await self.states.seal_state(aggregate.stream, state)
            await self.store.save_snapshot(
                aggregate.stream, aggregate.version, state, schema=self.schema
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            self.stats.failed += 1
            log.warning(
                "snapshot %s of %r at version %d failed; the command succeeded",
                self.schema,
                aggregate.stream,
                aggregate.version,
                exc_info=True,
            )
            return
        book.snapshot_at = book.version
        self.stats.taken += 1
