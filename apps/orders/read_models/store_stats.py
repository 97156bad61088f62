"""`store_stats`: the event store explorer's view: stream sizes, type counts, recent events."""

from __future__ import annotations

from collections.abc import Iterable

from eventbook import RecordedEvent
from eventbook.projections import (
    HandlerMap,
    HandlerRetry,
    Projection,
    ProjectionDatabase,
    SqlBatch,
    SqlSink,
)

RECENT = 200
"""How many of the newest events the explorer keeps."""

SCHEMA = [
    "CREATE TABLE {streams} (stream TEXT PRIMARY KEY, category TEXT NOT NULL,"
    " events BIGINT NOT NULL, last_type TEXT NOT NULL, last_recorded_at TEXT NOT NULL)",
    "CREATE INDEX {streams}_size ON {streams} (events, stream)",
    "CREATE TABLE {event_types} (type TEXT PRIMARY KEY, events BIGINT NOT NULL)",
    "CREATE TABLE {recent_events} (position TEXT PRIMARY KEY, stream TEXT NOT NULL,"
    " version BIGINT NOT NULL, type TEXT NOT NULL, recorded_at TEXT NOT NULL)",
    "CREATE INDEX {recent_events}_time ON {recent_events} (recorded_at)",
]


def store_stats(database: ProjectionDatabase, event_types: Iterable[str]) -> Projection[SqlBatch]:
    """Counts every event of `event_types`, whatever its stream."""
    upsert_stream = (
        "INSERT INTO {streams} VALUES (?, ?, 1, ?, ?) ON CONFLICT (stream) DO UPDATE SET"
        " events = {streams}.events + 1, last_type = excluded.last_type,"
        " last_recorded_at = excluded.last_recorded_at"
    )
    count_type = (
        "INSERT INTO {event_types} VALUES (?, 1)"
        " ON CONFLICT (type) DO UPDATE SET events = {event_types}.events + 1"
    )
    remember = (
        "INSERT INTO {recent_events} VALUES (?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING"
    )
    forget = (
        "DELETE FROM {recent_events} WHERE recorded_at < (SELECT MIN(recorded_at) FROM"
        f" (SELECT recorded_at FROM {{recent_events}} ORDER BY recorded_at DESC LIMIT {RECENT}) t)"
    )

    def counted(event: RecordedEvent, batch: SqlBatch) -> None:
        recorded_at = event.recorded_at.isoformat()
        batch.execute(upsert_stream, (event.stream, event.category, event.type, recorded_at))
        batch.execute(count_type, (event.type,))
        batch.execute(
            remember, (str(event.position), event.stream, event.version, event.type, recorded_at)
        )
        if event.version % 50 == 0 or event.position.minor % 50 == 0:
            batch.execute(forget)

    handlers: HandlerMap[SqlBatch] = HandlerMap()
    handlers.on(*sorted(set(event_types)))(counted)
    return Projection(
        "store_stats",
        SqlSink(database, tables=["streams", "event_types", "recent_events"], schema=SCHEMA),
        handlers,
        retry=HandlerRetry(max_attempts=3, backoff=0.05),
    )
