"""What the store's messages hold, and how they become `RecordedEvent`s and `Snapshot`s.

An event message's body is a small JSON object with the event's id, stream, version, type,
data and metadata (`recorded_at` only when the event brought its own time, as an import
does); its position is the message's stream sequence and its time the server's
`Nats-Time-Stamp`. An id marker's body says how many sequences after it its event lies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from nats.aio.msg import Msg

from eventbook._backends.nats.direct import sequence_of
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
    return _event_decoder.decode(body).v


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
