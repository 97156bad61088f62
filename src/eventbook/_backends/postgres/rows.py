"""Rows of the events table as `RecordedEvent`s (every read query selects these columns)."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import msgspec

from eventbook._store.types import Position, RecordedEvent, ReplayRecord

_documents = msgspec.json.Decoder(list[RecordedEvent]).decode
_replayed = msgspec.json.Decoder(list[ReplayRecord]).decode


def recorded(rows: Iterable[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(event_id, stream, version, Position(tx, seq), kind, data, metadata, at)
        for tx, seq, event_id, stream, version, kind, data, metadata, at in rows
    ]


def documents(rows: list[asyncpg.Record]) -> list[RecordedEvent]:
    """Rows of a query wrapped by `as_documents.sql`, decoded in one call."""
    return _documents(_array(rows)) if rows else []


def replayed(rows: list[asyncpg.Record]) -> list[ReplayRecord]:
    """Rows of a query wrapped by `as_replay_records.sql`, decoded in one call."""
    return _replayed(_array(rows)) if rows else []


def _array(rows: list[asyncpg.Record]) -> str:
    return "[" + ",".join([row[0] for row in rows]) + "]"
