"""Rows of the events table as `RecordedEvent`s (every read query selects these columns)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from eventbook._store.types import Position, RecordedEvent


def recorded(rows: Iterable[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(event_id, stream, version, Position(tx, seq), kind, data, metadata, at)
        for tx, seq, event_id, stream, version, kind, data, metadata, at in rows
    ]
