"""Reading a view through whichever build is active, wherever that build lives.

SQL readers that query a projection's plain table names follow `switch_to` by
themselves: the view `<table>` is repointed in the switch's transaction. A read model
that moves to another store (SQL tables to Redis keys, say) has no such view: the
application reads it through an `ActiveView`, which maps each build version to a reader
for that build and asks the projection database which build is active::

    detail = ActiveView(db, "order_detail", {1: SqlOrders(db, 1), 2: RedisOrders(sink, 2)})
    order = await detail.read(lambda orders: orders.get("order-42"))

The active build is the row `switch_to` flips in one transaction, so every process sees
the switch at its commit. With `max_age=0` (the default) each read looks the row up
first (one primary-key lookup on the database that holds it): a read that starts after
`switch_to` has returned, in any process, is served by the new build, never by the
retired one, which is frozen from then on. A positive `max_age` keeps the answer that
long, saving the lookup and seeing a switch up to `max_age` seconds late.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from eventbook._errors import NoActiveBuild, ValidationError
from eventbook.projections._ports import ProjectionDatabase

R = TypeVar("R")
T = TypeVar("T")

ACTIVE_BUILD = "SELECT version FROM eventbook_projection_checkpoints WHERE name = ? AND active"


class ActiveView(Generic[R]):
    """A projection's read model as readers see it: the active build's reader."""

    def __init__(
        self,
        database: ProjectionDatabase,
        name: str,
        readers: Mapping[int, R],
        *,
        max_age: float = 0.0,
    ) -> None:
        if not readers:
            raise ValidationError(f"the view of {name!r} needs a reader for at least one build")
        if max_age < 0:
            raise ValidationError(f"max_age must be 0 or more seconds, not {max_age}")
        self.database = database
        self.name = name
        self.readers = dict(readers)
        self.max_age = max_age
        self._cached: tuple[int, float] | None = None

    async def version(self) -> int:
        """The active build's version (looked up, or cached for `max_age` seconds)."""
        if self._cached is not None and time.monotonic() - self._cached[1] < self.max_age:
            return self._cached[0]
        return await self._look_up()

    async def reader(self) -> tuple[int, R]:
        """The active build's version and its reader."""
        version = await self.version()
        reader = self.readers.get(version)
        if reader is None:
            known = ", ".join(str(v) for v in sorted(self.readers))
            raise NoActiveBuild(
                f"{self.name!r} v{version} is active, but this view reads only v{known}:"
                " deploy the new build's reader before switching to it"
            )
        return version, reader

    async def read(self, query: Callable[[R], Awaitable[T]]) -> T:
        """Run `query` on the active build's reader.

        A read that fails because its build went away under it (the switch and the drop
        of the old build committed between the lookup and the query) is run once more on
        the build active now.
        """
        version, reader = await self.reader()
        try:
            return await query(reader)
        except Exception:
            if await self._look_up() == version:
                raise
            _, reader = await self.reader()
            return await query(reader)

    def forget(self) -> None:
        """Drop the cached answer: the next read looks the active build up."""
        self._cached = None

    async def _look_up(self) -> int:
        rows = await self.database.fetch(ACTIVE_BUILD, (self.name,))
        if not rows:
            self._cached = None
            raise NoActiveBuild(
                f"no build of {self.name!r} is active: set one up (a daemon, setup_projection"
                " or `eventbook projections build`) before reading it"
            )
        version = int(rows[0][0])
        self._cached = (version, time.monotonic())
        return version
