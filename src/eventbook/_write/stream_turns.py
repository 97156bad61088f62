"""One command at a time per stream within a process: commands of one bus take turns.

Commands on the same stream in one process would otherwise load the same version, decide,
and fight over the append, spending their retries on each other. A lock per stream makes
them queue instead, so retries are left for conflicts with other processes. A lock is
kept only while a command holds or awaits it, so memory stays bounded by the number of
streams in use at once, not by the number ever seen.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class StreamTurns:
    """Per-stream locks, each dropped when its last user leaves."""

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    def hold(self, stream: str) -> _Hold:
        """Hold `stream` until the block ends (`async with turns.hold(stream): ...`);
        commands of this bus on it wait their turn, in the order they asked (asyncio
        locks are fair)."""
        return _Hold(self._turns, stream)

    def __len__(self) -> int:
        """How many streams are held or awaited now."""
        return len(self._turns)


class _Hold:
    """`StreamTurns.hold` as a plain class: every command enters one, and a generator-based
    context manager costs several times as much."""

    __slots__ = ("_stream", "_turn", "_turns")

    def __init__(self, turns: dict[str, _Turn], stream: str) -> None:
        self._turns = turns
        self._stream = stream
        self._turn: _Turn | None = None

    async def __aenter__(self) -> None:
        turn = self._turns.get(self._stream)
        if turn is None:
            turn = self._turns[self._stream] = _Turn()
        turn.users += 1
        try:
            await turn.lock.acquire()
        except BaseException:
            self._leave(turn)
            raise
        self._turn = turn

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        turn = self._turn
        assert turn is not None
        self._turn = None
        turn.lock.release()
        self._leave(turn)

    def _leave(self, turn: _Turn) -> None:
        turn.users -= 1
        if turn.users == 0:
            del self._turns[self._stream]
