"""Rows of the events table as `RecordedEvent`s.

Every read query (`read_all`, `read_all_filtered`, `read_stream_*`, `read_event`) selects
`tx, seq, id, stream, version, type, data::text || ',' || metadata::text, recorded_at`:
data and metadata come as JSON text, the same text the JSONB codec would get, and a
page's are parsed in one msgspec call instead of one codec call (a Python frame) per value,
which cost the client more than the parsing itself. The server does the same work either
way (its CPU per row, measured, does not change).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from eventbook._store.types import Position, RecordedEvent, ReplayRecord, SchemaTag

_values = msgspec.json.Decoder(list[Any]).decode


def recorded(rows: Sequence[asyncpg.Record]) -> list[RecordedEvent]:
    if not rows:
        return []
    # [data, metadata, data, metadata, ...] for the whole page, in one call.
    values = _values("[" + ",".join([row[6] for row in rows]) + "]")
    return [
        RecordedEvent(event_id, stream, version, Position(tx, seq), kind, data, metadata, at)
        for (tx, seq, event_id, stream, version, kind, _, at), data, metadata in zip(
            rows, values[0::2], values[1::2], strict=True
        )
    ]


def replayed(rows: list[asyncpg.Record]) -> list[ReplayRecord]:
    """Rows of `replay_stream.sql`: data kept as the JSON text it came as, and the schema
    versions of the page decoded in one call (a missing one is 1, as in `SchemaTag`)."""
    if not rows:
        return []
    schemas = _values("[" + ",".join([row[3] or "1" for row in rows]) + "]")
    return [
        ReplayRecord(version, kind, msgspec.Raw(data), SchemaTag(schema))
        for (version, kind, data, _), schema in zip(rows, schemas, strict=True)
    ]
