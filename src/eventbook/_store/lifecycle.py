"""A stream's life after its events: deletion, tombstones, truncation, retention.

The value types and the rules every backend applies the same way. A backend keeps, per
stream that has any of them, a `StreamMarks` record next to its events and applies
`check_writable` inside the append's transaction; each lifecycle change also appends a
system event (`STREAM_DELETED`, `STREAM_TRUNCATED`, `STREAM_ARCHIVED`) to the stream's
metadata stream `$$<stream>`, so projections see it in the global order.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from eventbook._errors import StreamDeleted, StreamNotFound, ValidationError
from eventbook._store.encoding import check_version, encode_object
from eventbook._store.ids import uuid7
from eventbook._store.types import (
    ANY,
    NO_STREAM,
    EncodedBatch,
    EncodedEvent,
    Expected,
    check_expected,
)

STREAM_DELETED = "$stream-deleted"
"""A stream was deleted (`data.hard` false) or tombstoned (`data.hard` true); `data.stream`
names it, `data.version` is its last version."""

STREAM_TRUNCATED = "$stream-truncated"
"""A stream's events before `data.before` were removed (by `truncate_stream` or retention)."""

STREAM_ARCHIVED = "$stream-archived"
"""A stream was archived: its events left the store (`eventbook archive`)."""

SYSTEM_PREFIX = "$$"
"""Streams named `$$<stream>` hold the system events about `<stream>`; applications
cannot append to them."""


def metadata_stream(stream: str) -> str:
    """The stream holding the system events about `stream`: `$$order-42` for `order-42`,
    in category `$$order`, so a projection asks for both categories to see them."""
    return SYSTEM_PREFIX + stream


class StreamMarks(msgspec.Struct, gc=False):
    """What a backend keeps about a stream besides its events (absent: all defaults)."""

    first_version: int = 1
    """The lowest version readers see; events below were removed or are hidden."""
    last_version: int = 0
    """The last version written when a mark was set: a tombstoned stream has no events
    left to tell it."""
    deleted: bool = False
    tombstoned: bool = False
    max_count: int | None = None
    max_age_seconds: float | None = None


class StreamState(msgspec.Struct, frozen=True, gc=False):
    """A stream as `EventStore.stream_state` reports it."""

    stream: str
    version: int
    """The last version ever written; numbering continues after a deletion."""
    first_version: int
    """The lowest version a reader sees (above `version` when there is none)."""
    deleted: bool
    tombstoned: bool
    max_count: int | None
    max_age: timedelta | None

    @property
    def exists(self) -> bool:
        return not (self.deleted or self.tombstoned) and self.first_version <= self.version


def state_of(stream: str, version: int, marks: StreamMarks | None) -> StreamState:
    marks = marks or StreamMarks()
    age = marks.max_age_seconds
    return StreamState(
        stream,
        max(version, marks.last_version),
        marks.first_version,
        marks.deleted,
        marks.tombstoned,
        marks.max_count,
        None if age is None else timedelta(seconds=age),
    )


def check_writable(batch: EncodedBatch, marks: StreamMarks | None, actual: int) -> bool:
    """Raise unless `batch` may be appended to a stream at version `actual` with these marks.

    Returns True when the append starts a new history of a deleted stream (the backend
    then clears the `deleted` mark in the same transaction). A restarted history keeps
    counting versions after the deleted ones, as KurrentDB does, so that a version
    number names one event for ever; it may expect `NO_STREAM` (what a reader sees).
    """
    if marks is not None and marks.tombstoned:
        raise StreamDeleted(batch.stream, hard=True)
    if marks is not None and marks.deleted:
        if not batch.restart:
            raise StreamDeleted(batch.stream, hard=False)
        if batch.expected is not NO_STREAM:
            check_expected(batch.stream, batch.expected, actual)
        return True
    check_expected(batch.stream, batch.expected, actual)
    return False


def check_not_system(stream: str) -> None:
    if stream.startswith(SYSTEM_PREFIX):
        raise ValidationError(
            f"stream {stream[:40]!r} is a system stream ('$$' names): only the store writes it"
        )


def check_retention(max_count: object, max_age: object) -> float | None:
    """Validate retention settings; return `max_age` in seconds."""
    if max_count is not None:
        check_version("max_count", max_count)
    if max_age is None:
        return None
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        raise ValidationError("max_age must be a positive timedelta or None")
    return max_age.total_seconds()


def marker_batch(
    event_type: str, stream: str, recorded_at: datetime | None = None, **data: object
) -> EncodedBatch:
    """The system event recording a lifecycle change of `stream`, ready to append."""
    event = EncodedEvent(
        uuid7(),
        event_type,
        encode_object("marker", {"stream": stream, **data}),
        b"{}",
        recorded_at,
    )
    return EncodedBatch(metadata_stream(stream), ANY, (event,))


def plan_delete(
    stream: str, expected: Expected, hard: bool, version: int, marks: StreamMarks | None
) -> StreamMarks:
    """The marks after deleting (or, with `hard`, tombstoning) a stream at `version`.

    Soft-deleting a stream without events, or one deleted already, is refused; a
    tombstone may be laid on any name (to reserve it) and on a soft-deleted stream.
    """
    marks = marks or StreamMarks()
    if marks.tombstoned:
        raise StreamDeleted(stream, hard=True)
    if not hard and marks.deleted:
        raise StreamDeleted(stream, hard=False)
    check_expected(stream, expected, version)
    if not hard and version < marks.first_version:
        raise StreamNotFound(stream)
    return msgspec.structs.replace(
        marks,
        first_version=version + 1,
        last_version=version,
        deleted=not hard,
        tombstoned=hard,
    )


def plan_truncate(
    stream: str, before: int, version: int, marks: StreamMarks | None
) -> StreamMarks | None:
    """The marks after removing the events before `before`; None when nothing goes.

    The newest event always stays (`before` is capped at the stream's version), so a
    truncated stream keeps counting from where it was; deleting it all is `delete_stream`.
    """
    marks = marks or StreamMarks()
    if marks.tombstoned or marks.deleted:
        raise StreamDeleted(stream, hard=marks.tombstoned)
    if version == 0:
        raise StreamNotFound(stream)
    cut = min(before, version)
    if cut <= marks.first_version:
        return None
    return msgspec.structs.replace(marks, first_version=cut, last_version=version)


def retention_cut(state: StreamState, max_age_cut: int | None) -> int | None:
    """The version retention truncates before: the stricter of `max_count` and the first
    version young enough for `max_age` (found by the caller); None to keep everything."""
    cuts = [c for c in (max_age_cut,) if c is not None]
    if state.max_count is not None:
        cuts.append(state.version - state.max_count + 1)
    cut = max(cuts, default=None)
    return cut if cut is not None and cut > state.first_version else None


def refuse_deleted(stream: str, marks: StreamMarks | None) -> None:
    """An import never writes into a deleted or tombstoned stream (purge it first)."""
    if marks is not None and (marks.deleted or marks.tombstoned):
        raise StreamDeleted(stream, hard=marks.tombstoned)


def plan_purge(stream: str, version: int, marks: StreamMarks | None) -> bool:
    """Whether purging finds anything to remove; a tombstone is never lifted."""
    if marks is not None and marks.tombstoned:
        raise StreamDeleted(stream, hard=True)
    return version > 0
