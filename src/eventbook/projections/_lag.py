"""How far behind a projection is, in events and in seconds.

Positions are opaque, so events are counted by reading them (the projection's own
filter, pages of ids only in spirit), up to a cap that keeps status calls cheap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventbook._store.port import EventStore
from eventbook._store.types import Position
from eventbook.projections._projection import Projection

COUNT_CAP = 10_000
_PAGE = 1000


async def count_between(
    store: EventStore,
    projection: Projection[Any],
    after: Position | None,
    upto: Position | None,
    cap: int = COUNT_CAP,
) -> tuple[int, bool]:
    """Events the projection would handle in (after, upto]: (count, exact?)."""
    types, categories = projection.read_filter()
    count = 0
    while True:
        limit = min(_PAGE, cap - count) if count < cap else 1
        page = await store.read_all_page(
            after=after, limit=limit, types=types, categories=categories
        )
        for event in page:
            if upto is not None and event.position > upto:
                return count, True
            if count == cap:
                return count, False  # one more exists: the count is a lower bound
            count += 1
        if len(page) < limit:
            return count, True
        after = page[-1].position


async def oldest_pending_age(
    store: EventStore, projection: Projection[Any], after: Position | None
) -> float:
    """Seconds since the oldest event the projection has not processed was recorded."""
    types, categories = projection.read_filter()
    page = await store.read_all_page(after=after, limit=1, types=types, categories=categories)
    if not page:
        return 0.0
    return max(0.0, (datetime.now(UTC) - page[0].recorded_at).total_seconds())
