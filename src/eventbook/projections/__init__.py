"""The read side: projections, their daemon, checkpoints, leases, dead letters, rebuilds.

Importing this package imports no database driver: `PostgresDatabase` (asyncpg) and
`RedisStreamSink` / `StreamBatch` (redis) are exported here but imported on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from eventbook.projections.postgres import PostgresDatabase
    from eventbook.projections.sinks.redis_streams import RedisStreamSink, StreamBatch

# Exports whose modules go with a database driver: imported when first asked for.
_LAZY_EXPORTS = {
    "PostgresDatabase": "eventbook.projections.postgres",
    "RedisStreamSink": "eventbook.projections.sinks.redis_streams",
    "StreamBatch": "eventbook.projections.sinks.redis_streams",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
    "PostgresDatabase",
    "Projection",
    "ProjectionDaemon",
    "ProjectionDatabase",
    "ProjectionError",
    "ProjectionHalted",
    "ProjectionRunner",
    "ProjectionState",
    "ProjectionStatus",
    "ProjectionTimeout",
    "RedisStreamSink",
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
    "StreamBatch",
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
