"""Given events, then rows: test one projection against a real projection database.

    spec = ProjectionSpec(order_list(database, registry.upcast))
    await spec.given("order-1", NewEvent("OrderPlaced", {...}), NewEvent("ItemAdded", {...}))
    await spec.then("SELECT order_id, total_cents FROM orders", [("order-1", 1250)])

The events go to an in-memory event store of the spec's own (or the `store` you pass),
and `given` returns once the projection has caught up with them, through the same
runner, batches and checkpoint as in production; `then` runs a reader's query (`?`
parameters, as everywhere on the read side) and compares the rows as tuples. No test
runner is needed: a mismatch raises `AssertionError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventbook._backends.memory import MemoryEventStore
from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import AppendResult, NewEvent
from eventbook.projections import Projection, RunnerSettings, catch_up


class ProjectionSpec:
    """One projection build, fed events, read back as rows."""

    def __init__(
        self,
        projection: Projection[Any],
        *,
        store: EventStore | None = None,
        settings: RunnerSettings | None = None,
    ) -> None:
        if not isinstance(projection, Projection):
            raise ValidationError(f"ProjectionSpec needs a Projection, not {projection!r}")
        self.projection = projection
        self._own_store = store is None
        self.store: EventStore = store if store is not None else MemoryEventStore()
        self._settings = settings or RunnerSettings(poll_interval=0.05, lease_ttl=5.0)

    async def given(self, stream: str, *events: NewEvent) -> AppendResult:
        """Append `events` to `stream` and wait until the projection has processed them."""
        if not events:
            raise ValidationError("given needs at least one event")
        result = await self.store.append(stream, list(events))
        await catch_up(self.store, self.projection, settings=self._settings, timeout=30.0)
        return result

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a reader's query returns now, as tuples."""
        found = await self.projection.sink.database.fetch(sql, params)
        return [tuple(row[i] for i in range(len(row))) for row in found]

    async def then(
        self, sql: str, expected: Sequence[Sequence[Any]], params: Sequence[Any] = ()
    ) -> None:
        """Assert that the query returns exactly `expected` (rows as tuples, in order)."""
        wanted = [tuple(row) for row in expected]
        found = await self.rows(sql, params)
        if found != wanted:
            raise AssertionError(
                f"{self.projection.label}: {sql}\n  expected {wanted}\n  found    {found}"
            )

    async def close(self) -> None:
        """Close the spec's own store (not a store you passed, nor the database)."""
        if self._own_store:
            await self.store.close()
