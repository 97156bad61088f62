"""Recognising a retried append whose events are already stored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple
from uuid import UUID

from eventbook._errors import DuplicateEventError
from eventbook._store.encoding import decode_object
from eventbook._store.types import AppendResult, EncodedBatch, Position


class StoredEvent(NamedTuple):
    """What a backend found stored under one of the batch's event ids."""

    id: UUID
    stream: str
    version: int
    position: Position
    type: str
    data: dict[str, Any]


def replayed_result(batch: EncodedBatch, stored: Sequence[StoredEvent]) -> AppendResult:
    """The original result of `batch` when it is an exact retry of `stored`.

    `stored` holds the stored events whose ids occur in the batch, in stream-version
    order. A client that retries after losing the reply gets the first result back;
    anything else that reuses a stored id is an error, and nothing is written.
    """
    first = batch.events[0].id
    if len(stored) != len(batch.events):
        raise DuplicateEventError(
            first,
            f"{len(stored)} of the batch's {len(batch.events)} event ids are stored already",
        )
    for offset, (new, old) in enumerate(zip(batch.events, stored, strict=True)):
        if old.stream != batch.stream:
            raise DuplicateEventError(new.id, f"it belongs to stream {old.stream!r}")
        if old.id != new.id or old.version != stored[0].version + offset:
            raise DuplicateEventError(new.id, "the batch stores these ids in another order")
        if old.type != new.type or old.data != decode_object(new.data):
            raise DuplicateEventError(new.id, "the stored event has a different type or data")
    last = stored[-1]
    return AppendResult(last.version, last.position, replayed=True)
