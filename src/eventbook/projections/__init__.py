"""The read side: projections, their daemon, checkpoints, leases, dead letters, rebuilds.

`__all__` below is the whole public surface. The package is laid out like the store:

- the core (modules with a leading underscore): the projection definition, the runner,
  the daemon, builds, parking, status, waiting, lag, settings, errors, and `_ports`, the
  contract between the runner, the projection databases and the sinks;
- one folder per projection database, `sqlite/` and `postgres/`, each with its database,
  session and connection modules and its SQL, one operation per `queries/*.sql` file;
- `sinks/`: where read models live (SQL tables, search indexes, Redis streams).

Importing this package imports no database driver: `PostgresDatabase` imports asyncpg
and the Redis sinks (`RedisStreamSink`, `RedisValueSink`) import redis, each on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from eventbook._errors import (
    HandlerFailed,
    InlineProjectionError,
    LeaseLost,
    ModeMismatch,
    NoActiveBuild,
    ParkedEventNotFound,
    PartitionMismatch,
    ProjectionError,
    ProjectionHalted,
    ProjectionTimeout,
    UnknownProjection,
)
from eventbook.projections._builds import (
    active_build,
    catch_up,
    drop_build,
    next_build,
    rebuild,
    reset_projection,
    setup_projection,
    switch_to,
)
from eventbook.projections._daemon import ProjectionDaemon
from eventbook.projections._inline import InlineProjections
from eventbook.projections._open import open
from eventbook.projections._parking import discard_parked, list_parked, retry_parked
from eventbook.projections._ports import (
    CheckpointRow,
    ParkedEvent,
    ParkedStatus,
    ProjectionDatabase,
    Session,
    Sink,
)
from eventbook.projections._projection import (
    BatchUpcaster,
    Handler,
    HandlerMap,
    HandlerRetry,
    OnFailure,
    PartitionKey,
    Projection,
    RecordUpcaster,
)
from eventbook.projections._runner import (
    BatchObserver,
    ProjectionRunner,
    RunnerSettings,
    RunnerState,
)
from eventbook.projections._status import (
    PartitionStatus,
    ProjectionState,
    ProjectionStatus,
    projection_status,
    status,
)
from eventbook.projections._views import ActiveView
from eventbook.projections._waiting import wait_for
from eventbook.projections.sinks.search import SearchBatch, SearchHit, SearchSink
from eventbook.projections.sinks.sql import SqlBatch, SqlSink
from eventbook.projections.sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from eventbook.projections.postgres import PostgresDatabase
    from eventbook.projections.sinks.redis_streams import RedisStreamSink, StreamBatch
    from eventbook.projections.sinks.redis_values import RedisValueSink, ValueBatch

__all__ = [
    "ActiveView",
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
    "NoActiveBuild",
    "OnFailure",
    "ParkedEvent",
    "ParkedEventNotFound",
    "ParkedStatus",
    "PartitionKey",
    "PartitionMismatch",
    "PartitionStatus",
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
    "RedisValueSink",
    "HandlerRetry",
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
    "ValueBatch",
    "RecordUpcaster",
    "active_build",
    "catch_up",
    "discard_parked",
    "drop_build",
    "list_parked",
    "next_build",
    "open",
    "projection_status",
    "rebuild",
    "reset_projection",
    "retry_parked",
    "setup_projection",
    "status",
    "switch_to",
    "wait_for",
]

_LAZY = {
    "PostgresDatabase": "eventbook.projections.postgres",
    "RedisStreamSink": "eventbook.projections.sinks.redis_streams",
    "StreamBatch": "eventbook.projections.sinks.redis_streams",
    "RedisValueSink": "eventbook.projections.sinks.redis_values",
    "ValueBatch": "eventbook.projections.sinks.redis_values",
}


def __getattr__(name: str) -> Any:
    # The names whose modules import a driver are imported on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
