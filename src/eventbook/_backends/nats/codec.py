"""What the store's messages hold, and how they become `RecordedEvent`s and `Snapshot`s.

An event message's body is a small JSON object with the event's id, stream, version, type,
data and metadata (`recorded_at` only when the event brought its own time, as an import
does); its position is the message's stream sequence and its time the server's
`Nats-Time-Stamp`. An id marker's body says how many sequences after it its event lies.

A fence (header `Eventbook-Fence`) lies on a stream's subject among its events when the
stream was deleted, tombstoned or is being archived: it carries the last version and the
flags an append checks, so that check is covered by the append's expectation on the
subject. A stream's marks (`StreamMarks`: first visible version, flags, retention) are
JSON on its marks subject; readers skip fences.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from nats.aio.msg import Msg

from eventbook._backends.nats.direct import sequence_of
from eventbook._store.lifecycle import StreamMarks
from eventbook._store.types import EncodedEvent, Position, RecordedEvent, Snapshot


class _EventOut(msgspec.Struct, omit_defaults=True):
    i: UUID
    s: str
    v: int
    t: str
    d: msgspec.Raw
    m: msgspec.Raw
    a: datetime | None = None


class _EventIn(msgspec.Struct):
    i: UUID
    s: str
    v: int
    t: str
    d: dict[str, Any]
    m: dict[str, Any]
    a: datetime | None = None


class Fence(msgspec.Struct):
    v: int
    """The stream's last version when the fence was laid."""
    deleted: bool = False
    tombstoned: bool = False

    def marks(self) -> StreamMarks:
        """What `check_writable` needs to know of the stream."""
        return StreamMarks(deleted=self.deleted, tombstoned=self.tombstoned)


class _Head(msgspec.Struct):
    """What an event's body and a fence's share: the version."""

    v: int


class _Id(msgspec.Struct):
    i: UUID


class Marker(msgspec.Struct):
    n: int
    """Sequences from the marker to its event."""


class _SnapshotBody(msgspec.Struct):
    v: int
    at: datetime
    state: msgspec.Raw


class _SnapshotIn(msgspec.Struct):
    v: int
    at: datetime
    state: dict[str, Any]


_encoder = msgspec.json.Encoder()
_event_decoder = msgspec.json.Decoder(_EventIn)
_marker_decoder = msgspec.json.Decoder(Marker)
_head_decoder = msgspec.json.Decoder(_Head)
_id_decoder = msgspec.json.Decoder(_Id)
_fence_decoder = msgspec.json.Decoder(Fence)
_marks_decoder = msgspec.json.Decoder(StreamMarks)

FENCE = "Eventbook-Fence"
_snapshot_decoder = msgspec.json.Decoder(_SnapshotIn)


def event_body(event: EncodedEvent, stream: str, version: int) -> bytes:
    return _encoder.encode(
        _EventOut(
            event.id,
            stream,
            version,
            event.type,
            msgspec.Raw(event.data),
            msgspec.Raw(event.metadata),
            event.recorded_at,
        )
    )


def marker_body(distance: int) -> bytes:
    return _encoder.encode(Marker(distance))


def read_marker(message: Msg) -> Marker:
    return _marker_decoder.decode(message.data)


def version_of(message: Msg) -> int:
    return version_in(message.data)


def version_in(body: bytes) -> int:
    """The version of an event, or the last version of the stream a fence was laid on."""
    return _head_decoder.decode(body).v


def event_id_hex(message: Msg) -> str:
    return _id_decoder.decode(message.data).i.hex


def fence_body(version: int, *, deleted: bool = False, tombstoned: bool = False) -> bytes:
    return _encoder.encode(Fence(version, deleted, tombstoned))


def is_fence(message: Msg) -> bool:
    return FENCE in (message.headers or {})


def fence_in(body: bytes, headers: dict[str, str] | None) -> Fence | None:
    """The fence a message's body holds, or None for an event."""
    return _fence_decoder.decode(body) if FENCE in (headers or {}) else None


def rank(message: Msg) -> int:
    """Orders a subject's messages like their sequences: version v's event ranks 2v, a
    fence laid at version v ranks 2v + 1 (it follows that event)."""
    return 2 * version_of(message) + is_fence(message)


def marks_body(marks: StreamMarks) -> bytes:
    return _encoder.encode(marks)


def marks_in(body: bytes) -> StreamMarks:
    return _marks_decoder.decode(body)


def recorded_event(message: Msg) -> RecordedEvent:
    body = _event_decoder.decode(message.data)
    return RecordedEvent(
        id=body.i,
        stream=body.s,
        version=body.v,
        position=Position(0, sequence_of(message)),
        type=body.t,
        data=body.d,
        metadata=body.m,
        recorded_at=body.a or server_time(message),
    )


def snapshot_body(version: int, state: bytes) -> bytes:
    return _encoder.encode(_SnapshotBody(version, datetime.now(UTC), msgspec.Raw(state)))


def snapshot_version(message: Msg) -> int:
    return _snapshot_decoder.decode(message.data).v


def snapshot(message: Msg, stream: str, schema: str) -> Snapshot:
    body = _snapshot_decoder.decode(message.data)
    return Snapshot(stream, body.v, schema, body.state, body.at)


def server_time(message: Msg) -> datetime:
    """The server's `Nats-Time-Stamp` (RFC 3339 with nanoseconds) in microseconds."""
    stamp = (message.headers or {})["Nats-Time-Stamp"].rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    moment = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    return moment.replace(microsecond=int((fraction + "000000")[:6]))
