"""What the Operations page shows, from the store and the service's own metrics.

`StoreSizes`: the store's totals and largest streams, as `eventbook stats` prints them,
kept for a while: `stats` and `list_streams` scan the whole log, which a page polling
every few seconds must not repeat.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from eventbook import EventStore, NotSupported

SIZES_TTL = 30.0
"""Seconds a store-size answer is reused."""


class StoreSizes:
    """`await sizes.read(top)`: totals and the `top` largest streams, cached SIZES_TTL."""

    def __init__(self, store: EventStore, ttl: float = SIZES_TTL) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = asyncio.Lock()
        self._read_at = -float("inf")
        self._answer: dict[str, Any] = {}
        self._streams: list[dict[str, Any]] = []

    async def read(self, top: int) -> dict[str, Any]:
        async with self._lock:  # one scan at a time, however many pages ask
            if time.monotonic() - self._read_at > self._ttl:
                await self._scan()
        return {**self._answer, "largest_streams": self._streams[:top]}

    async def _scan(self) -> None:
        try:
            totals = await self._store.stats()
            streams = await self._store.list_streams()
        except NotSupported as error:
            self._answer = {"supported": False, "detail": str(error)}
            self._streams = []
        else:
            largest = sorted(streams, key=lambda s: (-s.bytes, s.stream))[:100]
            built = msgspec.to_builtins(totals)
            self._answer = {"supported": True, **built, "read_at": time.time()}
            self._streams = [
                {"stream": s.stream, "events": s.version, "bytes": s.bytes} for s in largest
            ]
        self._read_at = time.monotonic()
