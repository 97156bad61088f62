"""Reading ahead: sequential reads fetch many rows per trip to a reader thread.

The store hands out small pages: decoding a few dozen events at a time keeps them in
the CPU cache, which matters more than anything else on the read path. A trip to a
reader thread and back costs tens of microseconds, though, so when a reader comes back
for the page after the one it was given (a `read_all`, `read_stream` or `subscribe`
loop), the store fetches many rows at once (1,024, then up to 4,096 per trip) and serves the
following pages from memory, decoding each page only when it is asked for. While the
reader decodes those, a reader thread already fetches the rows after them
(`_fetch_ahead`), so that a long read seldom waits for the database.

Buffered rows are always what a fresh read would return: events are immutable, and
every commit not yet visible to a fetch, from any connection or process, gets positions
(and versions) beyond the fetched ones - positions and versions are assigned under
SQLite's write lock, in commit order. So fetched rows never go stale; only the end of
the data moves, and a reader that runs out of buffered rows fetches on from where they
end, never serving "nothing more" from memory. (Deleting or truncating streams, when it
comes, must forget the buffers.)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from eventbook._backends.sqlite.documents import RECORDED, Decoding, T, split_documents
from eventbook._backends.sqlite.reads import Chunk

Fetch = Callable[[int, int], "asyncio.Future[Chunk]"]
"""`fetch(cursor, count)`: up to `count` rows from `cursor` on, in reading order."""


@dataclass(slots=True)
class _Place:
    """One reader's place in a sequential read, with the documents fetched beyond it."""

    end: int  # the cursor of the first row after the fetched ones
    fetched: int  # how many rows the last fetch asked for
    documents: list[bytes] = field(default_factory=list)
    offset: int = 0  # the documents before this one were served already
    ahead: asyncio.Future[Chunk] | None = None  # the `fetched` rows after `end`, coming

    @property
    def buffered(self) -> int:
        return len(self.documents) - self.offset


class ReadAhead:
    def __init__(
        self, ahead: int = 1024, most: int = 4096, places: int = 16, fetch_ahead: bool = True
    ) -> None:
        self._ahead = ahead
        self._most = most
        self._fetch_ahead_at_all = fetch_ahead
        self._limit = places
        self._places: OrderedDict[Hashable, _Place] = OrderedDict()

    async def page(
        self,
        scope: Hashable,
        cursor: int,
        limit: int,
        fetch: Fetch,
        key: Callable[[T], int],
        advance: Callable[[int], int],
        first: int = 0,
        decoding: Decoding[T] = RECORDED,  # type: ignore[assignment]
    ) -> list[T]:
        """The page of up to `limit` events of `scope` starting at `cursor`.

        `scope` names the read (its kind and filters); `key(event)` is the event's ordering
        key (its position, or its version) and `advance(key)` the cursor of the row after
        it. A read that starts here fetches `first` rows (at least `limit`): what it will
        probably read. `decoding` says what the documents become; the buffered documents
        are the same for every kind, so a replay reads on where a plain read left off.
        """
        place = self._places.pop((scope, cursor), None)
        if place is None:
            place = _Place(cursor, max(limit, first))
            documents, count, last = await fetch(cursor, place.fetched)
            if count < place.fetched and count <= limit:  # the whole read: decode it as it came
                return [] if documents is None else decoding.joined(documents)
            self._add(place, documents, last, advance)
            if count == place.fetched > limit:  # a read that goes on, as it was expected to
                self._fetch_ahead(place, fetch)
        elif place.buffered < limit:
            await self._read_on(place, limit, fetch, advance)
        start = place.offset
        place.offset = min(start + limit, len(place.documents))
        page = decoding.documents(place.documents[start : place.offset])
        if page:  # after an empty page a caught-up reader waits; it does not read on
            self._places[(scope, advance(key(page[-1])))] = place
            while len(self._places) > self._limit:
                self._places.popitem(last=False)  # forget the least recently read
        return page

    async def _read_on(
        self, place: _Place, limit: int, fetch: Fetch, advance: Callable[[int], int]
    ) -> None:
        """Add the rows after `place.end` to its buffer: those fetched ahead, else fresh ones."""
        del place.documents[: place.offset]
        place.offset = 0
        ahead, place.ahead = place.ahead, None
        if ahead is not None:
            documents, count, last = await ahead
            self._add(place, documents, last, advance)
            if count == place.fetched:
                self._fetch_ahead(place, fetch)
                return
            # A short read-ahead met the end of the data as it was then; more may have
            # been committed since, so it never stands for "nothing more": look again.
            if place.buffered >= limit:
                return
        # A reader that comes back reads on: the longer it does, the fewer trips it makes.
        place.fetched = max(limit, self._ahead, min(self._most, 4 * place.fetched))
        documents, count, last = await fetch(place.end, place.fetched)
        self._add(place, documents, last, advance)
        if count == place.fetched:  # more is likely: fetch it while these are read
            self._fetch_ahead(place, fetch)

    @staticmethod
    def _add(
        place: _Place, documents: bytes | None, last: int | None, advance: Callable[[int], int]
    ) -> None:
        if documents is not None and last is not None:
            place.documents += split_documents(documents)
            place.end = advance(last)

    def _fetch_ahead(self, place: _Place, fetch: Fetch) -> None:
        if not self._fetch_ahead_at_all:
            return
        # The reader thread builds the next chunk while this one is decoded: the query
        # joins the documents in SQLite, which runs without the GIL.
        place.fetched = max(self._ahead, min(self._most, 2 * place.fetched))
        place.ahead = fetch(place.end, place.fetched)
        # A reader that stops reading never awaits it: its outcome is of no interest then.
        place.ahead.add_done_callback(_outcome_seen)

    def clear(self) -> None:
        self._places.clear()


def _outcome_seen(future: asyncio.Future[Chunk]) -> None:
    if not future.cancelled():
        future.exception()
