"""What operators see per projection build: position, lag, state, dead letters, errors.

A partitioned build is reported as a whole — its position is the slowest partition's,
its lag the worst partition's, its state the most alarming one — and per partition in
`partitions`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eventbook._store.port import EventStore
from eventbook.projections._lag import count_between, oldest_pending_age, partition_lags
from eventbook.projections._outages import WAITING_PREFIX
from eventbook.projections._ports import CheckpointRow
from eventbook.projections._projection import Projection
from eventbook.projections._rows import slowest_position

STUCK_AFTER = 60.0
"""A build with work pending whose checkpoint has not moved for this long is stuck."""


class ProjectionState(enum.Enum):
    CATCHING_UP = "catching_up"
    LIVE = "live"
    STOPPED = "stopped"
    """No runner holds the lease (no daemon running it)."""
    WAITING = "waiting"
    """A sink (database, Redis) cannot be reached: the build retries with backoff until it
    is back, parking nothing; `waiting_for` names it."""
    FAILED = "failed"
    """Halted at a parked event (policy STOP) until an operator retries or discards it."""
    RETIRED = "retired"
    """Replaced by a newer build; kept until dropped."""
    INLINE = "inline"
    """Runs inside appends; always up to date."""


_ALARM = [
    ProjectionState.FAILED,
    ProjectionState.WAITING,
    ProjectionState.STOPPED,
    ProjectionState.CATCHING_UP,
    ProjectionState.LIVE,
]
"""A partitioned build's state is its partitions' first state in this order."""


@dataclass(frozen=True)
class PartitionStatus:
    """One partition of a partitioned build."""

    partition: int
    state: ProjectionState
    position: str | None
    lag_events: int
    lag_exact: bool
    lag_seconds: float
    owner: str | None
    last_error: str | None
    waiting_for: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value}


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    version: int
    active: bool
    state: ProjectionState
    position: str | None
    lag_events: int
    lag_exact: bool
    """False when `lag_events` is a lower bound (counting stops at a cap)."""
    lag_seconds: float
    """Age of the oldest event not yet processed; 0 when caught up."""
    parked: int
    last_error: str | None
    last_error_at: float | None
    owner: str | None
    stuck: bool
    """Work is pending but the checkpoint has not moved for `STUCK_AFTER` seconds."""
    waiting_for: str | None = None
    """While the state is WAITING, what cannot be reached ("Redis", "PostgreSQL", ...)."""
    partitions: list[PartitionStatus] = field(default_factory=list)
    """Each partition of a partitioned build ([] when the build is not partitioned)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "state": self.state.value,
            "partitions": [p.as_dict() for p in self.partitions],
        }


async def projection_status(
    store: EventStore, projection: Projection[Any], *, stuck_after: float = STUCK_AFTER
) -> ProjectionStatus | None:
    """The status of one build, or None if it was never set up."""
    database = projection.sink.database
    rows = await database.partitions(projection.name, projection.version)
    if not rows:
        return None
    parked, halted = await database.parked_summary(projection.name, projection.version)
    if len(rows) > 1:
        return await _partitioned(store, projection, rows, parked, halted, stuck_after)
    row = rows[0]
    if row.mode == "inline":
        lag, exact, age = 0, True, 0.0
    else:
        lag, exact = await count_between(store, projection, row.position, None)
        age = await oldest_pending_age(store, projection, row.position) if lag else 0.0
    now = time.time()
    waiting_for = _waiting_for(row, now)
    state = ProjectionState.WAITING if waiting_for is not None else _state(row, halted, lag, now)
    idle_for = now - (row.updated_at or now)
    return ProjectionStatus(
        name=row.name,
        version=row.version,
        active=row.active,
        state=state,
        position=None if row.position is None else str(row.position),
        lag_events=lag,
        lag_exact=exact,
        lag_seconds=age,
        parked=parked,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        owner=row.owner if row.lease_until > now else None,
        stuck=state is ProjectionState.FAILED
        or (state is not ProjectionState.RETIRED and _stalled(lag, age, idle_for, stuck_after)),
        waiting_for=waiting_for,
    )


def _waiting_for(row: CheckpointRow, now: float) -> str | None:
    """The sink a running build waits for: it said so after its last commit."""
    error, said_at = row.last_error or "", row.last_error_at or 0.0
    if not error.startswith(WAITING_PREFIX) or said_at <= (row.updated_at or 0.0):
        return None
    if row.mode == "inline" or row.retired or row.owner is None or row.lease_until <= now:
        return None
    return error.removeprefix(WAITING_PREFIX).partition(":")[0]


async def status(
    store: EventStore, projections: Sequence[Projection[Any]], **options: float
) -> list[ProjectionStatus]:
    """The status of each build that has been set up, in the order given."""
    found = [await projection_status(store, p, **options) for p in projections]
    return [s for s in found if s is not None]


def _state(row: CheckpointRow, halted: bool, lag: int, now: float) -> ProjectionState:
    if row.mode == "inline":
        return ProjectionState.INLINE
    if row.retired:
        return ProjectionState.RETIRED
    if halted:
        return ProjectionState.FAILED
    if row.owner is None or row.lease_until <= now:
        return ProjectionState.STOPPED
    return ProjectionState.LIVE if lag == 0 else ProjectionState.CATCHING_UP


async def _partitioned(
    store: EventStore,
    projection: Projection[Any],
    rows: Sequence[CheckpointRow],
    parked: int,
    halted: bool,
    stuck_after: float,
) -> ProjectionStatus:
    now = time.time()
    lags = await partition_lags(store, projection, [row.position for row in rows])
    parts = []
    for row, (lag, exact, age) in zip(rows, lags, strict=True):
        waiting_for = _waiting_for(row, now)
        # Which partition a halting event stopped is not counted here: a halted build
        # shows FAILED in every partition that is stuck behind, as a whole.
        state = _state(row, halted and lag > 0, lag, now)
        parts.append(
            PartitionStatus(
                partition=row.partition,
                state=ProjectionState.WAITING if waiting_for is not None else state,
                position=None if row.position is None else str(row.position),
                lag_events=lag,
                lag_exact=exact,
                lag_seconds=age,
                owner=row.owner if row.lease_until > now else None,
                last_error=row.last_error,
                waiting_for=waiting_for,
            )
        )
    worst = max(parts, key=lambda p: (p.lag_events, p.lag_seconds))
    states = {p.state for p in parts}
    retired = rows[0].retired
    state = ProjectionState.RETIRED if retired else next(s for s in _ALARM if s in states)
    reached = slowest_position(rows)
    errors = [row for row in rows if row.last_error_at is not None]
    latest = max(errors, key=lambda row: row.last_error_at or 0.0, default=None)
    owners = sorted({p.owner for p in parts if p.owner is not None})
    idle_for = now - max((row.updated_at or now) for row in rows)
    return ProjectionStatus(
        name=projection.name,
        version=projection.version,
        active=rows[0].active,
        state=state,
        position=None if reached is None else str(reached),
        lag_events=worst.lag_events,
        lag_exact=all(p.lag_exact for p in parts),
        lag_seconds=max(p.lag_seconds for p in parts),
        parked=parked,
        last_error=None if latest is None else latest.last_error,
        last_error_at=None if latest is None else latest.last_error_at,
        owner=", ".join(owners) or None,
        stuck=state is ProjectionState.FAILED
        or (
            state is not ProjectionState.RETIRED
            and _stalled(worst.lag_events, max(p.lag_seconds for p in parts), idle_for, stuck_after)
        ),
        waiting_for=next((p.waiting_for for p in parts if p.waiting_for), None),
        partitions=parts,
    )


def _stalled(lag: int, oldest_pending: float, idle_for: float, stuck_after: float) -> bool:
    """Behind, with an event waiting and the checkpoint still, both for over `stuck_after`.

    The checkpoint of a quiet build does not move for hours: that alone is no sign of
    trouble, so the oldest pending event must have waited that long as well.
    """
    return lag > 0 and min(oldest_pending, idle_for) > stuck_after
