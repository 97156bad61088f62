"""How far behind a projection is, in events and in seconds.

Positions are opaque, so events are counted by reading them (the projection's own
filter, pages of ids only in spirit), up to a cap that keeps status calls cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
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


async def partition_lags(
    store: EventStore,
    projection: Projection[Any],
    positions: Sequence[Position | None],
    cap: int = COUNT_CAP,
) -> list[tuple[int, bool, float]]:
    """Per partition of a partitioned build: (events behind, exact?, age of its oldest
    pending event). One pass from the slowest partition's position, each event counted
    for its own partition if that partition has not passed it; reading stops after
    `cap` events (later counts are then lower bounds)."""
    types, categories = projection.read_filter()
    counts = [0] * len(positions)
    ages = [0.0] * len(positions)
    started = [p for p in positions if p is not None]
    after = None if len(started) < len(positions) else min(started)
    now = datetime.now(UTC)
    read = 0
    while read < cap:
        limit = min(_PAGE, cap - read)
        page = await store.read_all_page(
            after=after, limit=limit, types=types, categories=categories
        )
        for event in page:
            part = projection.partition_of(event)
            reached = positions[part]
            if reached is None or event.position > reached:
                if counts[part] == 0:
                    ages[part] = max(0.0, (now - event.recorded_at).total_seconds())
                counts[part] += 1
        read += len(page)
        if len(page) < limit:
            return [(count, True, age) for count, age in zip(counts, ages, strict=True)]
        after = page[-1].position
    more = await store.read_all_page(after=after, limit=1, types=types, categories=categories)
    exact = not more
    return [(count, exact, age) for count, age in zip(counts, ages, strict=True)]
