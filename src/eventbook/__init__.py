"""eventbook: CQRS and Event Sourcing for Python.

This module lists the public API; everything else is an implementation detail.
"""

from eventbook.aggregate import Aggregate
from eventbook.commands import (
    CommandBus,
    CommandHandler,
    CommandResult,
    RetryPolicy,
    aggregate_handler,
)
from eventbook.connect import connect
from eventbook.context import CommandContext, CommandMetadata
from eventbook.decider import Decider, DeciderAggregate
from eventbook.errors import (
    CommandIdReused,
    CommandValidationError,
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EventbookError,
    EventSchemaError,
    SchemaVersionError,
    StoreClosed,
    StreamNotFound,
    UnavailableError,
    UnknownCommandError,
    UnknownEventType,
    ValidationError,
)
from eventbook.ids import uuid7
from eventbook.messages import EventRegistry, PipelineStage
from eventbook.repository import Repository
from eventbook.snapshots import SnapshotPolicy, SnapshotStats, snapshot_every
from eventbook.store import EventStore
from eventbook.types import (
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
from eventbook.upcasting import Upcaster
from eventbook.wakeup import AppendSignal, Wakeup

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "Aggregate",
    "AppendResult",
    "AppendSignal",
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
    "Wakeup",
    "aggregate_handler",
    "category_of",
    "connect",
    "snapshot_every",
    "uuid7",
]
