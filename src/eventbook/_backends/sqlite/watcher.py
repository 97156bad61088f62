"""Noticing commits made by other connections: other processes, or other stores on the file.

Appends through this store wake its subscribers directly. For everything else, one task
per store asks SQLite `PRAGMA data_version` every `watch_interval` seconds while at least
one subscriber waits: a read of a counter in shared memory, whatever the number of
subscribers. When the counter moves, every waiting subscriber is woken to look again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable

from eventbook._errors import EventbookError
from eventbook._store.signal import Wakeup, check_timeout


class CommitWatcher:
    """The store's `AppendSignal`: its own appends' `Wakeup`, plus other connections'."""

    def __init__(
        self,
        poll: Callable[[], asyncio.Future[int]],
        wakeup: Wakeup,
        interval: float,
        baseline: int,
    ) -> None:
        self._poll = poll
        self._wakeup = wakeup
        self._interval = interval
        self._last = baseline
        self._waiting = 0
        self._task: asyncio.Task[None] | None = None
        self._polling: asyncio.Future[int] | None = None
        self._stopped = False

    def ticket(self) -> int:
        return self._wakeup.ticket()

    async def wait(self, ticket: int, timeout: float) -> bool:
        """Wait like `Wakeup.wait`, also woken by other connections' commits."""
        timeout = check_timeout(timeout)
        if self._stopped:
            return True  # the store is closed: nothing to wait for
        self._waiting += 1
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="eventbook-sqlite-watcher")
        try:
            return await self._wakeup.wait(ticket, timeout)
        finally:
            self._waiting -= 1

    async def stop(self) -> None:
        """Stop watching; returns once no poll is running any more."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._polling is not None:
            # The poll's connection is closed next: let a poll in a reader thread finish.
            await asyncio.wait([self._polling])
            if not self._polling.cancelled():
                self._polling.exception()  # seen here; nobody else awaits it now

    async def _watch(self) -> None:
        # `_last` survives between runs, so a commit made while nobody was waiting is
        # still noticed by the first poll of the next run.
        try:
            while self._waiting and not self._stopped:
                await asyncio.sleep(self._interval)
                self._polling = self._poll()
                # Shielded: cancelling the watcher must not forget a poll still running.
                version = await asyncio.shield(self._polling)
                if version != self._last:
                    self._last = version
                    self._wakeup.notify()
        except (EventbookError, sqlite3.Error):
            pass  # closing, or the file is unreachable: subscribers still look again on timeout
        finally:
            self._task = None
