"""What every throwaway server shares: start on entry, clean everything up on exit."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class ThrowawayServer(abc.ABC):
    """A server in a temporary directory of its own, started and removed by this object."""

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Stop the server and remove its directory (safe to call at any point)."""

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
