"""eventbook: CQRS and Event Sourcing for Python.

This module lists the public API; everything else is an implementation detail.
"""

from eventbook.connect import connect
from eventbook.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EventbookError,
    SchemaVersionError,
    StoreClosed,
    StreamNotFound,
    UnavailableError,
    ValidationError,
)
from eventbook.ids import uuid7
from eventbook.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventStore,
    Expected,
    ExpectedVersion,
    NewEvent,
    Position,
    RecordedEvent,
    Snapshot,
    category_of,
)

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "ConcurrencyError",
    "DuplicateEventError",
    "EventStore",
    "EventbookError",
    "Expected",
    "ExpectedVersion",
    "NewEvent",
    "Position",
    "RecordedEvent",
    "SchemaVersionError",
    "Snapshot",
    "StoreClosed",
    "StreamNotFound",
    "UnavailableError",
    "ValidationError",
    "category_of",
    "connect",
    "uuid7",
]
