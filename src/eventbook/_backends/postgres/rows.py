"""Rows of the events table as `RecordedEvent`s (every read query selects these columns)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import msgspec

from eventbook._store.types import Position, RecordedEvent, ReplayRecord

_replayed = msgspec.json.Decoder(list[ReplayRecord]).decode


def recorded(rows: Iterable[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(event_id, stream, version, Position(tx, seq), kind, data, metadata, at)
        for tx, seq, event_id, stream, version, kind, data, metadata, at in rows
    ]


def replayed(page: str | None) -> list[ReplayRecord]:
    """The JSON array `replay_stream.sql` returns (None for no rows)."""
    return [] if page is None else _replayed(page)
