"""An in-process cache of aggregates' latest states: snapshots kept in memory.

After each save the repository keeps the aggregate's snapshot here. A normal load starts
from it and reads only the events stored after it, so it is never stale. A command
handler may also take the cached state as it is, without asking the store
(`Repository.load(..., verified=False)`): its save still expects the cached version, so
a stale state fails with `ConcurrencyError` and writes nothing, and the entry is then
distrusted until a load has caught up with the store.

Entries are encoded JSON, so no loaded aggregate shares mutable state with the cache or
with another loaded copy.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from eventbook._errors import ValidationError
from eventbook._write.aggregate import Aggregate, Bookkeeping

log = logging.getLogger("eventbook.repository")

A = TypeVar("A", bound=Aggregate[Any])

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


class _Entry:
    __slots__ = ("snapshot_at", "state", "trusted", "version")

    def __init__(self, version: int, snapshot_at: int, state: bytes) -> None:
        self.version = version
        self.snapshot_at = snapshot_at  # the newest stored snapshot, for the snapshot policy
        self.state = state
        self.trusted = True


class StateCache:
    """The latest state of up to `size` streams, the least recently used evicted first."""

    def __init__(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValidationError(f"the cache size must be a positive int, not {size!r}")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def recall(self, stream: str, new: Callable[[], A]) -> tuple[A, bool] | None:
        """A fresh aggregate from `new()` set to the cached state, and whether it is trusted."""
        entry = self._entries.get(stream)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(stream)
        aggregate = new()
        try:
            aggregate.restore_snapshot(_decode(entry.state))
        except Exception:
            log.warning("the cached state of %r cannot be restored", stream, exc_info=True)
            self.discard(stream)
            self.misses += 1
            return None
        Bookkeeping.of(aggregate).restored(entry.version, snapshot_at=entry.snapshot_at)
        self.hits += 1
        return aggregate, entry.trusted

    def remember(self, aggregate: Aggregate[Any]) -> None:
        """Keep the aggregate's current state (never raises: a cache is an optimisation)."""
        stream = aggregate.stream
        try:
            state = _encode(aggregate.to_snapshot())
        except Exception:
            log.warning("the state of %r cannot be cached", stream, exc_info=True)
            self.discard(stream)
            return
        book = Bookkeeping.of(aggregate)
        self._entries[stream] = _Entry(book.version, book.snapshot_at, state)
        self._entries.move_to_end(stream)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def distrust(self, stream: str) -> None:
        """The stream moved on elsewhere: catch up before the entry is used as it is again."""
        entry = self._entries.get(stream)
        if entry is not None:
            entry.trusted = False

    def discard(self, stream: str) -> None:
        self._entries.pop(stream, None)
