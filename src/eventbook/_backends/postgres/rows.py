"""Rows of the events table as `RecordedEvent`s (every read query selects these columns)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg
import msgspec

from eventbook._store.types import Position, RecordedEvent, ReplayRecord, SchemaTag

_schemas = msgspec.json.Decoder(list[Any]).decode


def recorded(rows: Iterable[asyncpg.Record]) -> list[RecordedEvent]:
    return [
        RecordedEvent(event_id, stream, version, Position(tx, seq), kind, data, metadata, at)
        for tx, seq, event_id, stream, version, kind, data, metadata, at in rows
    ]


def replayed(rows: list[asyncpg.Record]) -> list[ReplayRecord]:
    """Rows of `replay_stream.sql`: data kept as the JSON text it came as, and the schema
    versions of the page decoded in one call (a missing one is 1, as in `SchemaTag`)."""
    if not rows:
        return []
    schemas = _schemas("[" + ",".join([row[3] or "1" for row in rows]) + "]")
    return [
        ReplayRecord(version, kind, msgspec.Raw(data), SchemaTag(schema))
        for (version, kind, data, _), schema in zip(rows, schemas, strict=True)
    ]
