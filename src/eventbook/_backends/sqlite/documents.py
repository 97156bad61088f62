"""The JSON document each event is stored as.

A stored document has exactly the fields of `RecordedEvent`, so msgspec turns it into
a `RecordedEvent` (UUID, position, datetime included) in one C call; building those
objects field by field in Python costs more than reading the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from eventbook._store.types import EncodedEvent, Position, RecordedEvent


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
_decode = msgspec.json.Decoder(RecordedEvent).decode
_decode_list = msgspec.json.Decoder(list[RecordedEvent]).decode


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


def decode_documents(documents: Sequence[bytes | msgspec.Raw]) -> list[RecordedEvent]:
    """Decode stored documents. One decoder call for them all: joining the documents into a
    JSON array costs less than calling the decoder once per document."""
    if len(documents) == 1:
        return [_decode(documents[0])]
    return _decode_list(b"[" + b",".join(documents) + b"]")


def decode_array(documents: bytes) -> list[RecordedEvent]:
    """Decode a JSON array of stored documents, as the read queries return them."""
    return _decode_list(documents)
