"""Reading ahead: sequential reads fetch many rows per trip to a reader thread.

The store hands out small pages: decoding a few dozen events at a time keeps them in
the CPU cache, which matters more than anything else on the read path. A trip to a
reader thread and back costs tens of microseconds, though, so when a reader comes back
for the page after the one it was given (a `read_all`, `read_stream` or `subscribe`
loop), the store fetches many rows at once (1,024, then 4,096 per trip) and serves the
following pages from memory, decoding each page only when it is asked for.

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
from dataclasses import dataclass

from eventbook.backends.sqlite.documents import decode_rows
from eventbook.store import RecordedEvent

Row = tuple[int, bytes]
"""A row as the reader threads return it: its ordering key and its document."""

Fetch = Callable[[int, int], "asyncio.Future[list[Row]]"]
"""`fetch(cursor, count)`: up to `count` rows from `cursor` on, in reading order."""


@dataclass(slots=True)
class _Place:
    """One reader's place in a sequential read, with the rows fetched beyond it."""

    rows: list[Row]
    offset: int  # the rows before this one were served already
    end: int  # the cursor of the first row after the fetched ones
    fetched: int  # how many rows the last fetch asked for


class ReadAhead:
    def __init__(self, ahead: int = 1024, most: int = 4096, places: int = 16) -> None:
        self._ahead = ahead
        self._most = most
        self._limit = places
        self._places: OrderedDict[Hashable, _Place] = OrderedDict()

    async def page(
        self,
        scope: Hashable,
        cursor: int,
        limit: int,
        fetch: Fetch,
        advance: Callable[[int], int],
        first: int = 0,
    ) -> list[RecordedEvent]:
        """The page of up to `limit` events of `scope` starting at `cursor`.

        `scope` names the read (its kind and filters); `advance(key)` is the cursor of the
        row after the one with ordering key `key` (a position, or a version). A read that
        starts here fetches `first` rows (at least `limit`): what it will probably read.
        """
        place = self._places.pop((scope, cursor), None)
        if place is None:
            count = max(limit, first)
            rows = await fetch(cursor, count)
            place = _Place(rows, 0, advance(rows[-1][0]) if rows else cursor, count)
        elif len(place.rows) - place.offset < limit:
            # A reader that comes back reads on: the longer it does, the fewer trips it makes.
            place.fetched = max(limit, self._ahead, min(self._most, 4 * place.fetched))
            rows = await fetch(place.end, place.fetched)
            place.rows = place.rows[place.offset :] + rows
            place.offset = 0
            if rows:
                place.end = advance(rows[-1][0])
        start = place.offset
        place.offset = min(start + limit, len(place.rows))
        page = decode_rows(place.rows, start, place.offset)
        if page:  # after an empty page a caught-up reader waits; it does not read on
            self._places[(scope, advance(place.rows[place.offset - 1][0]))] = place
            while len(self._places) > self._limit:
                self._places.popitem(last=False)  # forget the least recently read
        return page

    def clear(self) -> None:
        self._places.clear()
