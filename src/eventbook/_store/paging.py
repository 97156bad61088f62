"""Paging through one stream: what `read_stream_pages` and `replay_pages` share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Protocol, TypeVar

from eventbook._store.encoding import check_limit, check_stream_name, check_version
from eventbook._store.types import RecordedEvent, ReplayRecord

if TYPE_CHECKING:
    from eventbook._store.port import EventStore

P = TypeVar("P", list[RecordedEvent], list[RecordedEvent] | list[ReplayRecord])


class PageTimes(Protocol):
    """Where `stream_pages` puts each page's read time in seconds (a histogram series, set
    by `eventbook.observability` as `EventStore._page_times`): it appends the time to
    `pending` itself, and calls `fold()` once `fold_at` times wait there."""

    pending: list[float]
    fold_at: int

    def fold(self) -> None: ...


async def stream_pages(
    store: EventStore,
    stream: str,
    from_version: int | None,
    backwards: bool,
    limit: int | None,
    must_exist: bool,
    read: Callable[[int | None, int], Awaitable[P]],
) -> AsyncIterator[P]:
    """Pages of `read(cursor, size)` from `from_version` on, `limit` events at most (no
    empty page); with `must_exist`, a stream without events raises as `_check_exists` does."""
    check_stream_name(stream)
    if from_version is not None:
        check_version("from_version", from_version)
    check_limit(limit)
    store._check_open()
    remaining = limit
    cursor = from_version
    first_page = True
    while remaining is None or remaining > 0:
        size = store.read_page_size if remaining is None else min(remaining, store.read_page_size)
        if (times := store._page_times) is None:
            page = await read(cursor, size)
        else:  # timed here: a wrapper of the page reads would add a coroutine, a hook a call
            started = perf_counter()
            page = await read(cursor, size)
            pending = times.pending
            pending.append(perf_counter() - started)
            if len(pending) >= times.fold_at:
                times.fold()
        if first_page and not page and must_exist:
            await store._check_exists(stream)
        first_page = False
        if page:
            yield page
        if len(page) < size:
            return
        if remaining is not None:
            remaining -= len(page)
        cursor = page[-1].version + (-1 if backwards else 1)
        if cursor < 1:
            return
