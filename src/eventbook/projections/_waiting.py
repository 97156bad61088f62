"""Read-your-writes: wait until a projection has processed a position."""

from __future__ import annotations

import time
from typing import Any

from eventbook._errors import ProjectionTimeout, UnknownProjection, ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import AppendResult, Position
from eventbook.projections._lag import count_between
from eventbook.projections._projection import Projection
from eventbook.projections._rows import slowest_position

_FIRST_POLL = 0.002
_MAX_POLL = 0.05


async def wait_for(
    projection: Projection[Any],
    position: Position | AppendResult,
    timeout: float = 10.0,
    *,
    store: EventStore | None = None,
) -> None:
    """Return once `projection` has processed `position` (e.g. an append's result).

    A partitioned build has processed a position once every partition has.
    Inline projections return at once: they commit with the append. Otherwise raise
    `ProjectionTimeout` after `timeout` seconds, saying how far behind the projection
    is (counted in events when `store` is given). Runners in this process wake the
    waiter directly; other processes' progress is seen by polling.

    A position no store of this kind could return (`97:2` for SQLite, whose positions
    have no first part) raises `ValidationError` at once rather than waiting out the
    timeout: checked against `store` when given, else against the build's checkpoint.
    """
    wanted = position.position if isinstance(position, AppendResult) else position
    if store is not None:
        store.check_position(wanted)
    elif not isinstance(wanted, Position):
        raise ValidationError(f"a position must be a Position, not {type(wanted).__name__}")
    database = projection.sink.database
    deadline = time.monotonic() + timeout
    poll = _FIRST_POLL
    while True:
        ticket = database.progress.ticket()
        rows = await database.partitions(projection.name, projection.version)
        if not rows:
            raise UnknownProjection(projection.label)
        for row in rows:
            if row.position is not None and not _same_shape(row.position, wanted):
                raise ValidationError(
                    f"position {wanted} cannot come from the store {projection.label} reads:"
                    f" it has reached {row.position}, a position of another shape"
                )
        reached = slowest_position(rows)
        if rows[0].mode == "inline" or (reached is not None and reached >= wanted):
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise await timed_out(projection, wanted, timeout, store)
        await database.progress.wait(ticket, min(poll, remaining))
        poll = min(_MAX_POLL, poll * 2)


def _same_shape(reached: Position, wanted: Position) -> bool:
    # Single-sequence stores have no first part; PostgreSQL's is a transaction id.
    return (reached.major == 0) == (wanted.major == 0)


async def timed_out(
    projection: Projection[Any], wanted: Position, waited: float, store: EventStore | None
) -> ProjectionTimeout:
    """The error for a build that did not reach `wanted` in `waited` seconds, saying where
    it is and (given the store) how many events it is behind."""
    rows = await projection.sink.database.partitions(projection.name, projection.version)
    reached = slowest_position(rows)
    behind, note = "an unknown number of", ""
    if store is not None:
        count, exact = await count_between(store, projection, reached, wanted)
        behind = f"{count}" if exact else f"more than {count}"
        head = await store.head()
        if head is None or head < wanted:
            note = (
                f"; the store's newest visible event is at {head or 'nothing yet'}:"
                " no append has returned that position, or it is held back"
            )
    shown = None if reached is None else str(reached)
    return ProjectionTimeout(projection.label, str(wanted), shown, behind, waited, note)
