"""Dead letters: list, retry and discard the events a projection parked.

- A *parked* event (policy SKIP) was stepped over. `retry_parked` applies it now, out of
  order, with the projection's current code; `discard_parked` forgets it.
- A *halted* event (policy STOP) holds its projection at the event. `retry_parked` lets
  the runner try it again in order; `discard_parked` lets the runner step over it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventbook._errors import HandlerFailed, ParkedEventNotFound, ProjectionError
from eventbook._store.port import EventStore
from eventbook.projections._ports import ParkedEvent, ParkedStatus
from eventbook.projections._projection import Projection
from eventbook.projections._runner import describe


async def list_parked(projection: Projection[Any]) -> list[ParkedEvent]:
    """The build's dead letters, oldest first."""
    return await projection.sink.database.parked(projection.name, projection.version)


async def retry_parked(store: EventStore, projection: Projection[Any], event_id: UUID) -> None:
    """Try a parked event again (see the module doc for what that means per status).

    A skipped event that fails again stays parked with one more attempt counted, and
    `HandlerFailed` is raised.
    """
    database = projection.sink.database
    parked = await _find(projection, event_id)
    if parked.status is not ParkedStatus.PARKED:
        # Halted: the runner, which owns the checkpoint, retries it in order.
        await database.delete_parked(projection.name, projection.version, event_id)
        return
    event = await store.read_event(event_id)
    if event is None:
        raise ProjectionError(f"parked event {event_id} is no longer in the event store")
    session = await database.session(projection.name, projection.version)
    try:
        batch = projection.sink.begin(session, projection.version, out_of_order=True)
        try:
            current = event
            if projection.upcast_batch is not None:
                (current,) = await projection.upcast_batch([current])
            if projection.upcast is not None:
                current = projection.upcast(current)
            handler = projection.handlers.get(current.type)
            if handler is not None:
                result = handler(current, batch)
                if result is not None:
                    await result
            writes = await projection.sink.flush(batch)
            await session.commit(writes, None, unpark=event_id)
        except Exception as error:
            await session.rollback()
            await database.update_parked(
                projection.name, projection.version, event_id, error=describe(error)
            )
            raise HandlerFailed(projection.label, event_id, event.type, error) from error
    finally:
        await session.release()


async def discard_parked(projection: Projection[Any], event_id: UUID) -> None:
    """Give up on a parked event for good."""
    parked = await _find(projection, event_id)
    database = projection.sink.database
    if parked.status is ParkedStatus.PARKED:
        await database.delete_parked(projection.name, projection.version, event_id)
    else:
        await database.update_parked(
            projection.name, projection.version, event_id, status=ParkedStatus.DISCARD
        )


async def _find(projection: Projection[Any], event_id: UUID) -> ParkedEvent:
    for parked in await list_parked(projection):
        if parked.event_id == event_id:
            return parked
    raise ParkedEventNotFound(projection.label, event_id)
