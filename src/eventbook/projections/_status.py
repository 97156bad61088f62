"""What operators see per projection build: position, lag, state, dead letters, errors."""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventbook._store.port import EventStore
from eventbook.projections._lag import count_between, oldest_pending_age
from eventbook.projections._outages import WAITING_PREFIX
from eventbook.projections._ports import CheckpointRow
from eventbook.projections._projection import Projection

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

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "state": self.state.value}


async def projection_status(
    store: EventStore, projection: Projection[Any], *, stuck_after: float = STUCK_AFTER
) -> ProjectionStatus | None:
    """The status of one build, or None if it was never set up."""
    database = projection.sink.database
    row = await database.checkpoint(projection.name, projection.version)
    if row is None:
        return None
    parked, halted = await database.parked_summary(projection.name, projection.version)
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
        or (state is not ProjectionState.RETIRED and lag > 0 and idle_for > stuck_after),
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
