"""`import_events` and the inspection queries on PostgreSQL, run on one lent session.

An import is one transaction: it reads the versions of its streams, refuses unless each
is just before its imported events, then inserts every row with one statement, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from eventbook._backends.postgres.jsonb import preserve_all_floats
from eventbook._backends.postgres.lifecycle import marks_of
from eventbook._backends.postgres.session import Session
from eventbook._backends.postgres.sql import Queries
from eventbook._errors import ValidationError
from eventbook._store.encoding import expected_number, import_refused
from eventbook._store.inspection import StoreStats, StreamInfo
from eventbook._store.lifecycle import refuse_deleted
from eventbook._store.types import EncodedBatch, Position


async def import_batches(session: Session, sql: Queries, batches: Sequence[EncodedBatch]) -> None:
    """Check and insert `batches`; the caller holds a transaction on `session`."""
    streams = list(dict.fromkeys(batch.stream for batch in batches))
    rows = await session.fetch(sql.stream_versions, streams)
    versions: dict[str, int] = {row[0]: row[1] for row in rows}
    marks = await marks_of(session, sql, streams)
    for batch in batches:
        refuse_deleted(batch.stream, marks.get(batch.stream))
        current, wanted = versions[batch.stream], expected_number(batch.expected)
        if current != wanted:
            raise import_refused(batch.stream, current, wanted)
        versions[batch.stream] = current + len(batch.events)
    # Checked: each batch's events take the versions after the one it expects.
    stream = [batch.stream for batch in batches for _ in batch.events]
    version = [
        expected_number(batch.expected) + offset
        for batch in batches
        for offset in range(1, len(batch.events) + 1)
    ]
    events = [event for batch in batches for event in batch.events]
    ids = [event.id for event in events]
    types = [event.type for event in events]
    data = [event.data for event in events]
    metadata = [event.metadata for event in events]
    recorded_at = [event.recorded_at for event in events]
    try:
        await session.fetch(
            sql.import_events,
            stream,
            version,
            ids,
            types,
            preserve_all_floats(data),
            preserve_all_floats(metadata),
            recorded_at,
        )
    except asyncpg.UniqueViolationError as exc:
        # The versions were checked: another writer appended meanwhile, or an id is taken.
        raise ValidationError(f"nothing was imported: {exc.detail or exc}") from None


async def list_streams(session: Session, sql: Queries, category: str | None) -> list[StreamInfo]:
    rows = await session.fetch(sql.list_streams, category)
    return [
        StreamInfo(stream, version, size, Position(tx, seq), at)
        for stream, version, size, tx, seq, at in rows
    ]


async def stats(session: Session, sql: Queries) -> StoreStats:
    async with session.connection.transaction(isolation="repeatable_read", readonly=True):
        rows = await session.fetch(sql.events_per_type)
        per_type: dict[str, int] = {row[0]: row[1] for row in rows}
        streams = await session.fetchval(sql.stream_count)
        size = await session.fetchval(sql.database_size)
    return StoreStats(sum(per_type.values()), streams, size, per_type)
