"""Waiting for something to happen without polling: the append signal of the port.

A reader that has caught up must sleep until there is more to read. The pattern, used by
`EventStore.subscribe`, the projection runner, `wait_for` and the live feed alike::

    ticket = signal.ticket()            # 1. take a ticket *before* reading
    page = await store.read_all_page(after=position)
    if not page:
        await signal.wait(ticket, 1.0)  # 2. sleep until something happened since the ticket

Taking the ticket first closes the race between the read and the wait: an append that
lands after the ticket was taken (even before the read) makes the wait return at once, so
no wake-up is ever missed. A wake-up is a hint, not a promise: readers always read again,
and must still bound each wait with a timeout (a signal from another process can be lost).
"""

from __future__ import annotations

import asyncio
import math
from typing import Protocol

from eventbook._errors import ValidationError


class AppendSignal(Protocol):
    """What every event store offers as `store.append_signal`.

    A backend implements two methods (the conformance suite checks both):

    - `ticket()` returns a token standing for "now"; cheap, synchronous, never fails.
    - `wait(ticket, timeout)` returns True as soon as events may have been appended since
      `ticket` was taken (at once if that happened already), or False after `timeout`
      seconds without a sign of one. Appends through this store must wake it; appends
      through other connections or processes should (by LISTEN/NOTIFY, a file counter, a
      broker subscription...), and may be noticed only on a later poll. Closing the store
      wakes every waiter. It never raises for a broken connection: waiters fall back to
      their timeout, and a backend recovers its notifications by itself.

    A backend whose appends all pass through one process can return a `Wakeup` and call
    its `notify()` after every committed append.
    """

    def ticket(self) -> int: ...

    async def wait(self, ticket: int, timeout: float) -> bool: ...


def check_timeout(timeout: object) -> float:
    """A wait's timeout: a finite number of seconds, zero or more."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValidationError(f"timeout must be a number of seconds, not {timeout!r}")
    if not math.isfinite(timeout) or timeout < 0:
        raise ValidationError(f"timeout must be finite and not negative, not {timeout}")
    return float(timeout)


class Wakeup:
    """An `AppendSignal` within one event loop: counts `notify()` calls.

    Also what projection databases use to tell `wait_for` that a checkpoint moved.
    """

    __slots__ = ("_generation", "_signal")

    def __init__(self) -> None:
        self._generation = 0
        self._signal = asyncio.Event()

    def ticket(self) -> int:
        return self._generation

    def notify(self) -> None:
        """Wake every waiter, and make every ticket taken so far stale."""
        self._generation += 1
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    async def wait(self, ticket: int, timeout: float) -> bool:
        timeout = check_timeout(timeout)
        if ticket != self._generation:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._signal.wait()
        except TimeoutError:
            return False
        return True
