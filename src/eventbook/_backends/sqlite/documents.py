"""The JSON document each event is stored as.

A stored document has exactly the fields of `RecordedEvent`, so msgspec turns it into
a `RecordedEvent` (UUID, position, datetime included) in one C call; building those
objects field by field in Python costs more than reading the row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

import msgspec

from eventbook._store.types import EncodedEvent, Position, RecordedEvent, ReplayRecord

T = TypeVar("T", RecordedEvent, ReplayRecord)


class _Document(msgspec.Struct, frozen=True, gc=False):
    """`RecordedEvent` with data and metadata passed through as already-encoded JSON."""

    id: UUID
    stream: str
    version: int
    position: Position
    type: str
    data: msgspec.Raw
    metadata: msgspec.Raw
    recorded_at: datetime


_encode = msgspec.json.Encoder().encode

SEPARATOR = b"\x1e"
"""What the read queries put between the documents they join (`char(30)`, the ASCII record
separator). No JSON text contains this byte: JSON escapes control characters inside
strings and allows none outside them. So splitting on it is exact, and a byte search:
about half the cost of the JSON scan that splitting a JSON array takes."""


def split_documents(joined: bytes) -> list[bytes]:
    """The documents of a read query's chunk, each as its own bytes."""
    return joined.split(SEPARATOR)


def encode_document(
    event: EncodedEvent, stream: str, version: int, position: int, recorded_at: datetime
) -> bytes:
    return _encode(
        _Document(
            event.id,
            stream,
            version,
            Position(0, position),
            event.type,
            msgspec.Raw(event.data),
            msgspec.Raw(event.metadata),
            recorded_at,
        )
    )


class Decoding(Generic[T]):
    """Stored documents into one kind of record, a page in one decoder call: joining the
    documents into a JSON array costs less than calling the decoder once per document."""

    def __init__(self, kind: type[T]) -> None:
        self._one: Callable[[bytes | msgspec.Raw], T] = msgspec.json.Decoder(kind).decode
        self._many: Callable[[bytes], list[T]] = msgspec.json.Decoder(list[kind]).decode  # type: ignore[valid-type]

    def documents(self, documents: Sequence[bytes | msgspec.Raw]) -> list[T]:
        if len(documents) == 1:
            return [self._one(documents[0])]
        return self._many(b"[" + b",".join(documents) + b"]")

    def joined(self, documents: bytes) -> list[T]:
        """Decode stored documents joined with `SEPARATOR`, as the read queries return them."""
        return self._many(b"[" + documents.replace(SEPARATOR, b",") + b"]")


RECORDED = Decoding(RecordedEvent)
"""Documents as `RecordedEvent`s: what reads return."""

REPLAYED = Decoding(ReplayRecord)
"""Documents as `ReplayRecord`s: version, type, schema tag and encoded data, the other
fields skipped unparsed (replaying an aggregate; see `EventStore.replay_pages`)."""


def decode_documents(documents: Sequence[bytes | msgspec.Raw]) -> list[RecordedEvent]:
    """Decode stored documents into `RecordedEvent`s."""
    return RECORDED.documents(documents)
