"""eventbook: CQRS and Event Sourcing for Python.

This module lists the public API; everything else is an implementation detail.
"""

from eventbook._connect import connect
from eventbook._errors import (
    CommandIdReused,
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EventbookError,
    EventSchemaError,
    NotSupported,
    SchemaVersionError,
    StoreClosed,
    StreamDeleted,
    StreamNotFound,
    UnavailableError,
    UnknownCommandError,
    UnknownEventType,
    ValidationError,
)
from eventbook._store.ids import uuid7
from eventbook._store.lifecycle import (
    STREAM_ARCHIVED,
    STREAM_DELETED,
    STREAM_TRUNCATED,
    StreamState,
    metadata_stream,
)
from eventbook._store.port import EventStore
from eventbook._store.signal import AppendSignal, Wakeup
from eventbook._store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    Expected,
    ExpectedVersion,
    NewEvent,
    Position,
    RecordedEvent,
    Snapshot,
    category_of,
)
from eventbook._write.aggregate import Aggregate
from eventbook._write.commands import (
    CommandBus,
    CommandHandler,
    CommandObserver,
    CommandResult,
    RetryPolicy,
    aggregate_handler,
)
from eventbook._write.context import CommandContext, CommandMetadata
from eventbook._write.decider import Decider, DeciderAggregate
from eventbook._write.messages import EventRegistry, PipelineStage
from eventbook._write.repository import Repository
from eventbook._write.snapshots import SnapshotPolicy, SnapshotStats, snapshot_every
from eventbook._write.upcasting import Upcaster

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_ARCHIVED",
    "STREAM_DELETED",
    "STREAM_EXISTS",
    "STREAM_TRUNCATED",
    "Aggregate",
    "AppendResult",
    "AppendSignal",
    "CommandBus",
    "CommandContext",
    "CommandHandler",
    "CommandIdReused",
    "CommandMetadata",
    "CommandObserver",
    "CommandResult",
    "CommandValidationError",
    "ConcurrencyError",
    "Decider",
    "DeciderAggregate",
    "DomainError",
    "DuplicateEventError",
    "EventRegistry",
    "EventSchemaError",
    "EventStore",
    "EventbookError",
    "Expected",
    "ExpectedVersion",
    "NewEvent",
    "NotSupported",
    "PipelineStage",
    "Position",
    "RecordedEvent",
    "Repository",
    "RetryPolicy",
    "SchemaVersionError",
    "Snapshot",
    "SnapshotPolicy",
    "SnapshotStats",
    "StoreClosed",
    "StreamDeleted",
    "StreamNotFound",
    "StreamState",
    "UnavailableError",
    "UnknownCommandError",
    "UnknownEventType",
    "Upcaster",
    "ValidationError",
    "Wakeup",
    "aggregate_handler",
    "category_of",
    "metadata_stream",
    "connect",
    "snapshot_every",
    "uuid7",
]
