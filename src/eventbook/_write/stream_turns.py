"""One command at a time per stream within a process: commands of one bus take turns.

Commands on the same stream in one process would otherwise load the same version, decide,
and fight over the append, spending their retries on each other. A lock per stream makes
them queue instead, so retries are left for conflicts with other processes. A lock is
kept only while a command holds or awaits it, so memory stays bounded by the number of
streams in use at once, not by the number ever seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class StreamTurns:
    """Per-stream locks, each dropped when its last user leaves."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    @contextlib.asynccontextmanager
    async def hold(self, stream: str) -> AsyncIterator[None]:
        """Hold `stream` until the block ends; commands of this bus on it wait their turn,
        in the order they asked (asyncio locks are fair)."""
        turn = self._turns.get(stream)
        if turn is None:
            turn = self._turns[stream] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[stream]

    def __len__(self) -> int:
        """How many streams are held or awaited now."""
        return len(self._turns)
