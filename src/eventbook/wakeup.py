"""A wake-up signal for caught-up subscribers within one event loop."""

from __future__ import annotations

import asyncio


class Wakeup:
    """Counts appends; lets a reader sleep until one happens after it last looked.

    A reader takes `ticket()` *before* it reads, then `wait(ticket, timeout)`: if an
    append landed in between, the wait returns at once, so no wake-up is ever missed.
    """

    def __init__(self) -> None:
        self._generation = 0
        self._signal = asyncio.Event()

    def ticket(self) -> int:
        return self._generation

    def notify(self) -> None:
        self._generation += 1
        signal, self._signal = self._signal, asyncio.Event()
        signal.set()

    async def wait(self, ticket: int, timeout: float) -> None:
        if ticket != self._generation:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._signal.wait()
        except TimeoutError:
            pass
