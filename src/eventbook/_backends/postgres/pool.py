"""A small connection pool: what the store needs and nothing more.

The store never changes session state (no SET, LISTEN, session locks or open
transactions between uses), so a connection goes back to the pool as it is, without a
reset query, and comes out again without bookkeeping: lending and returning one costs a
few list operations. A connection that saw anything but a clean server-side error
(cancellation, timeout, a lost socket) is discarded instead of reused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventbook._backends.postgres.direct import Direct


class PoolTimeout(Exception):
    """No connection became free in time."""


class PoolClosed(Exception):
    """The pool was closed."""


class Pool:
    """Up to `size` connections, opened on demand by `connect`."""

    def __init__(self, connect: Callable[[], Awaitable[Direct]], size: int) -> None:
        self._connect = connect
        self.size = size
        self.open_count = 0  # connections open or being opened
        self._idle: list[Direct] = []
        # A waiter receives a connection, or None: "a slot is free, open one yourself".
        self._waiters: deque[asyncio.Future[Direct | None]] = deque()
        self._born: dict[Direct, int] = {}
        self._generation = 0
        self._closed = False
        self.on_discard: Callable[[Direct], None] = lambda _connection: None
        """Called for each connection the pool lets go (to drop what is kept for it)."""

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    async def fill(self, count: int) -> None:
        """Open connections until `count` are open (at least one is tried even when 0)."""
        opened = [await self._open() for _ in range(max(count - self.open_count, 0))]
        for connection in opened:
            self.release(connection, healthy=True)

    async def acquire(self, timeout: float) -> Direct:
        if self._closed:
            raise PoolClosed
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._forget(connection)
        if self.open_count < self.size:
            return await self._open()
        waiter: asyncio.Future[Direct | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                handed = await waiter
        except TimeoutError:
            self._give_back(waiter)
            raise PoolTimeout from None
        except BaseException:
            self._give_back(waiter)
            raise
        return await self._open() if handed is None else handed

    def release(self, connection: Direct, *, healthy: bool) -> None:
        stale = self._born.get(connection) != self._generation
        if self._closed or not healthy or stale or connection.is_closed():
            self._forget(connection)
            connection.terminate()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def expire(self) -> None:
        """Replace every connection: idle ones now, lent ones when they come back."""
        self._generation += 1
        idle, self._idle = self._idle, []
        for connection in idle:
            self._forget(connection)
            connection.terminate()

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._forget(connection)
        await asyncio.gather(*(c.close(timeout=2) for c in idle), return_exceptions=True)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(PoolClosed())

    def terminate(self) -> None:
        self._closed = True
        for connection in list(self._born):
            self.on_discard(connection)
            connection.terminate()
        self._born.clear()
        self._idle.clear()

    async def _open(self) -> Direct:
        self.open_count += 1
        try:
            connection = await self._connect()
        except BaseException:
            self.open_count -= 1
            self._free_slot()
            raise
        self._born[connection] = self._generation
        return connection

    def _forget(self, connection: Direct) -> None:
        self.on_discard(connection)
        if self._born.pop(connection, None) is not None:
            self.open_count -= 1
            self._free_slot()

    def _free_slot(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _give_back(self, waiter: asyncio.Future[Direct | None]) -> None:
        """A waiter gave up: pass on whatever it was handed meanwhile."""
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            handed = waiter.result()
            if handed is None:
                self._free_slot()
            else:
                self.release(handed, healthy=True)
