"""The read side: projections, their daemon, checkpoints, leases, dead letters, rebuilds.

Importing this package imports no database driver: `eventbook.projections.postgres`
imports asyncpg and `eventbook.projections.sinks.redis_streams` imports redis, each
only when you import it.
"""

from eventbook.projections.builds import (
    catch_up,
    drop_build,
    rebuild,
    reset_projection,
    setup_projection,
    switch_to,
)
from eventbook.projections.daemon import ProjectionDaemon
from eventbook.projections.errors import (
    HandlerFailed,
    InlineProjectionError,
    LeaseLost,
    ModeMismatch,
    ParkedEventNotFound,
    ProjectionError,
    ProjectionHalted,
    ProjectionTimeout,
    UnknownProjection,
)
from eventbook.projections.inline import InlineProjections
from eventbook.projections.parking import discard_parked, list_parked, retry_parked
from eventbook.projections.ports import (
    CheckpointRow,
    ParkedEvent,
    ParkedStatus,
    ProjectionDatabase,
    Session,
    Sink,
)
from eventbook.projections.projection import (
    BatchUpcaster,
    Handler,
    HandlerMap,
    OnFailure,
    Projection,
    RetryPolicy,
    Upcaster,
)
from eventbook.projections.runner import (
    BatchObserver,
    ProjectionRunner,
    RunnerSettings,
    RunnerState,
)
from eventbook.projections.sinks.search import SearchBatch, SearchHit, SearchSink
from eventbook.projections.sinks.sql import SqlBatch, SqlSink
from eventbook.projections.sqlite import SQLiteDatabase
from eventbook.projections.status import (
    ProjectionState,
    ProjectionStatus,
    projection_status,
    status,
)
from eventbook.projections.waiting import wait_for

__all__ = [
    "BatchObserver",
    "BatchUpcaster",
    "CheckpointRow",
    "Handler",
    "HandlerFailed",
    "HandlerMap",
    "InlineProjectionError",
    "InlineProjections",
    "LeaseLost",
    "ModeMismatch",
    "OnFailure",
    "ParkedEvent",
    "ParkedEventNotFound",
    "ParkedStatus",
    "Projection",
    "ProjectionDaemon",
    "ProjectionDatabase",
    "ProjectionError",
    "ProjectionHalted",
    "ProjectionRunner",
    "ProjectionState",
    "ProjectionStatus",
    "ProjectionTimeout",
    "RetryPolicy",
    "RunnerSettings",
    "RunnerState",
    "SQLiteDatabase",
    "SearchBatch",
    "SearchHit",
    "SearchSink",
    "Session",
    "Sink",
    "SqlBatch",
    "SqlSink",
    "UnknownProjection",
    "Upcaster",
    "catch_up",
    "discard_parked",
    "drop_build",
    "list_parked",
    "projection_status",
    "rebuild",
    "reset_projection",
    "retry_parked",
    "setup_projection",
    "status",
    "switch_to",
    "wait_for",
]
