"""A projection build's life: set up, rebuild from scratch, switch readers, drop.

Blue/green: run version 2 of a projection beside version 1 (its own tables, its own
checkpoint). `switch_to(store, v2)` waits until v2 has caught up, then in one
transaction points readers at v2 (views or pointer rows swapped) and retires v1, whose
runner is fenced and ends. `drop_build(v1)` then removes v1's tables. Readers never
see an empty or half-built model: they see v1 until the commit, v2 after it.

A partitioned build is caught up when every partition is: `catch_up` runs one runner
per partition (each standing by while a daemon holds its lease), and `switch_to` waits
for the slowest partition before it switches.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, TypeVar

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook.projections._projection import Projection
from eventbook.projections._rows import new_owner
from eventbook.projections._runner import ProjectionRunner, RunnerSettings
from eventbook.projections._waiting import wait_for

C = TypeVar("C")


async def setup_projection(projection: Projection[Any], *, mode: str = "async") -> None:
    """Create eventbook's tables and this build's tables (first time only).

    The first build of a name becomes the active one readers see.
    """
    database = projection.sink.database
    sink, version = projection.sink, projection.version
    if projection.partitions > 1:
        if mode != "async":
            raise ValidationError(f"{projection.label}: an inline projection is not partitioned")
        if not getattr(sink, "commits_with_checkpoint", False):
            # Partitions have an epoch each; a sink fenced by one build-wide epoch
            # outside the database (Redis) would refuse all but one of them.
            raise ValidationError(
                f"{projection.label}: {type(sink).__name__} cannot be partitioned; only sinks"
                " whose writes commit with the checkpoint (SqlSink, SearchSink) can"
            )
    await database.setup()
    await database.register(
        projection.name,
        version,
        mode,
        sink.create_ddl(version),
        sink.activate_ddl(version),
        partitions=projection.partitions,
    )


async def active_build(projection: Projection[C]) -> Projection[C]:
    """The build of this projection readers see, as its database records it.

    The version written in code only names the first build: after a blue/green switch
    the active version lives in the checkpoint table, and a process that starts again
    must run that one. A projection never set up is returned as it is.
    """
    database = projection.sink.database
    await database.setup()
    for row in await database.checkpoints():
        if row.name == projection.name and row.active and row.mode != "inline":
            return dataclasses.replace(projection, version=row.version)
    return projection


def next_build(projection: Projection[C]) -> Projection[C]:
    """The same definition one version up: its own tables and checkpoint, built beside
    this one until `switch_to` makes it the one readers see."""
    return dataclasses.replace(projection, version=projection.version + 1)


async def reset_projection(projection: Projection[Any]) -> None:
    """Empty the build's read model and move its checkpoint back to the start.

    A runner holding the lease is fenced (its next commit fails and it starts over).
    Readers of this build see the model empty until it is rebuilt: use a new version
    and `switch_to` to rebuild without that gap.
    """
    sink, version = projection.sink, projection.version
    # Data outside the database is cleared by the next runner, under its lease, when it
    # finds the checkpoint at the start (see ProjectionRunner._work).
    await sink.database.reset(
        projection.name, version, sink.reset_ddl(version), sink.activate_ddl(version)
    )


async def rebuild(
    store: EventStore,
    projection: Projection[Any],
    *,
    settings: RunnerSettings | None = None,
    timeout: float = 3600.0,
) -> None:
    """Reset the build and replay history into it, returning once it has caught up.

    If a daemon holds the lease it does the replay and this call waits for it;
    otherwise the replay runs here.
    """
    await setup_projection(projection)
    await reset_projection(projection)
    await catch_up(store, projection, settings=settings, timeout=timeout)


async def catch_up(
    store: EventStore,
    projection: Projection[Any],
    *,
    settings: RunnerSettings | None = None,
    timeout: float = 3600.0,
) -> None:
    """Process the build up to the store's current head, here or by a running daemon."""
    await setup_projection(projection)
    head = await store.head()
    if head is None:
        return
    database = projection.sink.database
    rows = await database.partitions(projection.name, projection.version)
    behind = [row.partition for row in rows if row.position is None or row.position < head]
    if not behind:
        return
    # One runner per partition still behind; where a daemon holds a partition's lease,
    # its runner stands by, and `wait_for` sees the daemons' progress as it happens.
    owner = new_owner()
    runners = [
        ProjectionRunner(store, projection, settings=settings, owner=owner, partition=partition)
        for partition in behind
    ]
    runs: asyncio.Future[list[None]] = asyncio.ensure_future(
        asyncio.gather(*(r.run(until=head) for r in runners))
    )
    reached: asyncio.Future[Any] = asyncio.ensure_future(
        wait_for(projection, head, timeout, store=store)
    )
    try:
        done, _ = await asyncio.wait([runs, reached], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # ProjectionHalted, ProjectionTimeout
    finally:
        for runner in runners:
            runner.stop()  # each finishes its batch in flight and releases its lease
        reached.cancel()
        await asyncio.gather(runs, reached, return_exceptions=True)
    await wait_for(projection, head, timeout, store=store)


async def switch_to(
    store: EventStore, projection: Projection[Any], *, timeout: float = 3600.0
) -> None:
    """Make this build the one readers see, once it has caught up; retire older builds."""
    await setup_projection(projection)
    head = await store.head()
    if head is not None:
        await wait_for(projection, head, timeout, store=store)
    sink, version = projection.sink, projection.version
    await sink.database.activate(projection.name, version, sink.activate_ddl(version))


async def drop_build(projection: Projection[Any]) -> None:
    """Remove a build that readers no longer use: its tables, checkpoint, dead letters."""
    sink, version = projection.sink, projection.version
    row = await sink.database.checkpoint(projection.name, version)
    await sink.database.drop(projection.name, version, sink.drop_ddl(version))
    await sink.clear(version, row.epoch + 1 if row is not None else 0)
