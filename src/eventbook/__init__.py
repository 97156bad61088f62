"""eventbook: CQRS and Event Sourcing for Python.

This module lists the public API; everything else is an implementation detail.
"""

from eventbook.aggregate import Aggregate, DomainError
from eventbook.commands import (
    CommandBus,
    CommandIdReused,
    CommandResult,
    RetryPolicy,
    UnknownCommandError,
    aggregate_handler,
)
from eventbook.commands import Handler as CommandHandler
from eventbook.connect import connect
from eventbook.context import CommandContext, CommandMetadata
from eventbook.decider import Decider, DeciderAggregate
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
from eventbook.messages import EventRegistry, PipelineStage, UnknownEventType
from eventbook.repository import Repository
from eventbook.snapshots import SnapshotPolicy, SnapshotStats, snapshot_every
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
from eventbook.upcasting import EventSchemaError, Upcaster
from eventbook.validation import CommandValidationError

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "Aggregate",
    "AppendResult",
    "CommandBus",
    "CommandContext",
    "CommandHandler",
    "CommandIdReused",
    "CommandMetadata",
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
    "StreamNotFound",
    "UnavailableError",
    "UnknownCommandError",
    "UnknownEventType",
    "Upcaster",
    "ValidationError",
    "aggregate_handler",
    "category_of",
    "connect",
    "snapshot_every",
    "uuid7",
]
