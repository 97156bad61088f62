"""What an operator asks of a whole store: its streams and its totals.

These are optional port operations (`EventStore.list_streams`, `EventStore.stats`): a
backend that cannot answer them cheaply enough raises `NotSupported`. They scan the
whole log on the backends that have them; they are for tools, not for request paths.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from eventbook._store.types import Position


class StreamInfo(msgspec.Struct, frozen=True, gc=False):
    """One stream: its version (its newest event's), its size, its last event."""

    stream: str
    version: int
    bytes: int
    """The events' data and metadata as the backend stores them, in bytes (approximate)."""
    last_position: Position
    last_recorded_at: datetime


class StoreStats(msgspec.Struct, frozen=True, gc=False):
    """A whole store's totals."""

    events: int
    streams: int
    bytes_on_disk: int | None
    """The database's size (events, snapshots and indexes); None where it cannot be told."""
    events_per_type: dict[str, int]
