"""Stream lifecycle on PostgreSQL: each change one transaction on one lent session.

The marks (`streams`), the removal of events and snapshots, and the system event in
`$$<stream>` commit together. Deleting takes `lock_for_lifecycle.sql` first, so that no
append to the stream can commit between reading its version and marking it deleted;
truncating and retention only remove old events and need no such lock. Removed rows
free no position: a transaction id and the identity sequence only go up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from eventbook._backends.postgres.jsonb import preserve_floats
from eventbook._backends.postgres.rows import recorded
from eventbook._backends.postgres.session import Session
from eventbook._backends.postgres.sql import Queries
from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    StreamMarks,
    StreamState,
    marker_batch,
    plan_delete,
    plan_purge,
    plan_truncate,
    state_of,
)
from eventbook._store.types import AppendResult, EncodedBatch, Expected, Position, RecordedEvent

Hook = Callable[[Session, Sequence[RecordedEvent]], Awaitable[None]]
"""Runs the store's append hooks on the marker, in the change's transaction."""

Plan = Callable[[StreamMarks | None, int], "tuple[StreamMarks | None, EncodedBatch, int] | None"]
"""Given the marks and version: the new marks (None: forget them), the system event,
and the version below which events go (0: none); None for no change."""


async def stream_marks(session: Session, sql: Queries, stream: str) -> StreamMarks | None:
    row = await session.fetchrow(sql.stream_marks, stream)
    return None if row is None else StreamMarks(*row)


async def marks_of(session: Session, sql: Queries, streams: list[str]) -> dict[str, StreamMarks]:
    rows = await session.fetch(sql.stream_marks_of, streams)
    return {row[0]: StreamMarks(*row[1:]) for row in rows}


async def delete_stream(
    session: Session, sql: Queries, stream: str, expected: Expected, hard: bool, hook: Hook
) -> AppendResult | None:
    def plan(marks: StreamMarks | None, version: int) -> tuple[StreamMarks, EncodedBatch, int]:
        new = plan_delete(stream, expected, hard, version, marks)
        marker = marker_batch(STREAM_DELETED, stream, version=version, hard=hard)
        return new, marker, version + 1 if hard else 0

    return await _changed(session, sql, stream, plan, hook, lock=True)


async def truncate_stream(
    session: Session, sql: Queries, stream: str, before: int, hook: Hook
) -> AppendResult | None:
    def plan(
        marks: StreamMarks | None, version: int
    ) -> tuple[StreamMarks, EncodedBatch, int] | None:
        new = plan_truncate(stream, before, version, marks)
        if new is None:
            return None
        marker = marker_batch(STREAM_TRUNCATED, stream, before=new.first_version)
        return new, marker, new.first_version

    return await _changed(session, sql, stream, plan, hook, lock=False)


async def purge_stream(
    session: Session, sql: Queries, stream: str, hook: Hook
) -> AppendResult | None:
    def plan(marks: StreamMarks | None, version: int) -> tuple[None, EncodedBatch, int] | None:
        if not plan_purge(stream, version, marks):
            return None
        return None, marker_batch(STREAM_ARCHIVED, stream, version=version), version + 1

    return await _changed(session, sql, stream, plan, hook, lock=True)


async def set_retention(
    session: Session,
    sql: Queries,
    stream: str,
    max_count: int | None,
    max_age_seconds: float | None,
) -> None:
    async with session.connection.transaction():
        marks = await stream_marks(session, sql, stream) or StreamMarks()
        marks.max_count, marks.max_age_seconds = max_count, max_age_seconds
        await _save(session, sql, stream, marks)


async def retained_streams(session: Session, sql: Queries) -> list[StreamState]:
    rows = await session.fetch(sql.retained_streams)
    return [
        state_of(stream, version, StreamMarks(first, last, False, False, count, age))
        for stream, version, first, last, count, age in rows
    ]


async def _changed(
    session: Session, sql: Queries, stream: str, plan: Plan, hook: Hook, *, lock: bool
) -> AppendResult | None:
    async with session.connection.transaction():
        if lock:
            await session.connection.execute(sql.lock_for_lifecycle)
        version = await session.fetchval(sql.stream_version, stream)
        marks = await stream_marks(session, sql, stream)
        outcome = plan(marks, max(version, marks.last_version if marks else 0))
        if outcome is None:
            return None
        new, marker, below = outcome
        if below:
            await session.fetch(sql.remove_events, stream, below)
            kept = below <= version  # a truncation keeps the newest event
            await session.fetch(sql.remove_snapshots, stream, below, kept)
        if new is None:
            await session.fetch(sql.forget_marks, stream)
        else:
            await _save(session, sql, stream, new)
        return await _append_marker(session, sql, marker, hook)


async def _append_marker(
    session: Session, sql: Queries, marker: EncodedBatch, hook: Hook
) -> AppendResult:
    (event,) = marker.events
    row = await session.fetchrow(
        sql.append_one,
        marker.stream,
        -1,
        event.id,
        event.type,
        preserve_floats(event.data),
        preserve_floats(event.metadata),
    )
    assert row is not None  # `$$` streams have no marks: the append cannot be refused
    rows = await session.fetch(sql.read_stream_forwards, marker.stream, row[0], 1)
    await hook(session, recorded(rows))
    return AppendResult(row[0], Position(row[1], row[2]))


async def _save(session: Session, sql: Queries, stream: str, marks: StreamMarks) -> None:
    await session.fetch(
        sql.save_marks,
        stream,
        marks.first_version,
        marks.last_version,
        marks.deleted,
        marks.tombstoned,
        marks.max_count,
        marks.max_age_seconds,
    )
