"""The interfaces between the runner, the projection databases and the sinks.

- A `ProjectionDatabase` keeps checkpoints, leases and parked events (SQLite,
  PostgreSQL, or memory for tests).
- A `Session` is one runner's hold on one projection in that database: its lease and
  the transaction in which a batch's writes and its checkpoint commit together.
- A `Sink` is where a projection's read model lives. It hands handlers a write context
  (`begin`) and, per batch, either returns the buffered SQL for the checkpoint's own
  transaction (same-database sinks) or writes idempotently elsewhere first (`flush`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventbook._store.signal import Wakeup
from eventbook._store.types import Position
from eventbook.projections._buffer import WriteBuffer

C = TypeVar("C")


class Row(Protocol):
    """A result row: a tuple from sqlite3, an `asyncpg.Record` from PostgreSQL."""

    def __getitem__(self, index: int, /) -> Any: ...

    def __len__(self) -> int: ...


class ParkedStatus(enum.Enum):
    PARKED = "parked"
    """Skipped: the projection went on without it."""
    HALTED = "halted"
    """The projection stopped at this event (policy `OnFailure.STOP`)."""
    DISCARD = "discard"
    """An operator discarded a halted event; the runner will step over it."""


@dataclass(frozen=True)
class CheckpointRow:
    """One projection build's row: where it is, who runs it, and how it is doing."""

    name: str
    version: int
    mode: str
    """'async' (run by a daemon) or 'inline' (run inside appends; no checkpoint)."""
    position: Position | None
    epoch: int
    """Bumped by every lease takeover and reset; commits from an older epoch fail."""
    owner: str | None
    lease_until: float
    active: bool
    """The build readers see under the projection's plain table names."""
    retired: bool
    last_error: str | None
    last_error_at: float | None
    updated_at: float | None
    partition: int = 0
    """Which partition of the build this row is (0 for an unpartitioned build); `active`,
    `retired` and `mode` are the same on every partition's row."""


@dataclass(frozen=True)
class CheckpointMove:
    """Compare-and-set: move the checkpoint from `expected` to `new`."""

    expected: Position | None
    new: Position


@dataclass(frozen=True)
class ParkedEvent:
    """A dead letter: an event a projection gave up on after its retries."""

    name: str
    version: int
    event_id: UUID
    position: Position
    stream: str
    type: str
    error: str
    attempts: int
    parked_at: float
    status: ParkedStatus
    partition: int = 0
    """The partition that parked it (a halted event halts only its own partition)."""


class Session(Protocol):
    """A runner's connection for one projection build, leased or not.

    A leased session checks the lease in every commit: the checkpoint row must still
    carry its owner and epoch (and, when it moves, the expected position), or the
    commit raises `LeaseLost` and nothing of the transaction is kept.
    """

    dialect: str
    name: str
    version: int
    epoch: int
    """The lease epoch this session holds (0 when unleased)."""
    partition: int
    """The partition of the build this session works on (0 when unpartitioned)."""

    async def load(self) -> CheckpointRow: ...

    async def fetch(self, writes: WriteBuffer, sql: str, params: Sequence[Any]) -> list[Row]:
        """Flush `writes` into the open transaction (starting one), then run a query."""
        ...

    async def commit(
        self,
        writes: WriteBuffer | None,
        move: CheckpointMove | None,
        *,
        park: ParkedEvent | None = None,
        unpark: UUID | None = None,
    ) -> None:
        """Write, move the checkpoint (compare-and-set), park/unpark: one transaction."""
        ...

    async def rollback(self) -> None: ...

    async def renew(self) -> None:
        """Extend the lease; raises `LeaseLost` when another runner has it."""
        ...

    async def record_error(self, error: str) -> None: ...

    async def halted(self) -> ParkedEvent | None:
        """The event this build is halted at (HALTED or DISCARD), if any."""
        ...

    async def release(self) -> None:
        """Give the lease up (if held) and close the connection."""
        ...


class ProjectionDatabase(Protocol):
    """Where checkpoints, leases and parked events live."""

    dialect: str
    progress: Wakeup
    """Notified by runners in this process after each commit (`wait_for` listens)."""
    read_ahead: bool
    """Whether a runner reads the next page while a batch commits (see the databases)."""

    async def setup(self) -> None:
        """Create eventbook's own tables (idempotent)."""
        ...

    async def register(
        self,
        name: str,
        version: int,
        mode: str,
        create: Sequence[str],
        activate: Sequence[str],
        *,
        partitions: int = 1,
    ) -> None:
        """Ensure the build's rows exist (one per partition); on first sight run `create`
        (its tables), and `activate` too when no build of this name is active yet. One
        transaction. A build registered with another partition count raises
        `PartitionMismatch`."""
        ...

    async def acquire(
        self, name: str, version: int, owner: str, ttl: float, *, partition: int = 0
    ) -> Session | None:
        """Take the lease of a build's partition, or `None` when a live runner holds it
        (or the build is retired)."""
        ...

    async def session(self, name: str, version: int, *, partition: int = 0) -> Session:
        """An unleased session, for operator actions that do not move the checkpoint."""
        ...

    async def checkpoint(
        self, name: str, version: int, *, partition: int = 0
    ) -> CheckpointRow | None: ...

    async def partitions(self, name: str, version: int) -> list[CheckpointRow]:
        """Every partition's row of a build, by partition number; [] if it is unknown."""
        ...

    async def heartbeat(self, name: str, version: int, owner: str, ttl: float) -> int:
        """Say that `owner` runs this build for `ttl` more seconds; return how many
        owners (this one included) say so now."""
        ...

    async def leave(self, name: str, version: int, owner: str) -> None:
        """`owner` no longer runs this build (a graceful stop)."""
        ...

    async def checkpoints(self) -> list[CheckpointRow]: ...

    async def parked(self, name: str, version: int) -> list[ParkedEvent]: ...

    async def parked_summary(self, name: str, version: int) -> tuple[int, bool]:
        """How many events the build parked, and whether one of them halts it: counted by
        the database, so a status poll never reads the parked events themselves."""
        ...

    async def update_parked(
        self,
        name: str,
        version: int,
        event_id: UUID,
        *,
        status: ParkedStatus | None = None,
        error: str | None = None,
    ) -> bool:
        """Change a parked event's status, or count one more failed attempt with `error`."""
        ...

    async def delete_parked(self, name: str, version: int, event_id: UUID) -> bool: ...

    async def reset(
        self, name: str, version: int, ddl: Sequence[str], activate: Sequence[str]
    ) -> None:
        """Start the build over: fence runners, clear position and dead letters, run
        `ddl` (drop and create the build's tables), then `activate` if it is active."""
        ...

    async def activate(self, name: str, version: int, ddl: Sequence[str]) -> None:
        """Make this build the active one and retire the others, running `ddl`; atomic."""
        ...

    async def drop(self, name: str, version: int, ddl: Sequence[str]) -> None:
        """Forget a build that is not active: its row, its dead letters, its tables."""
        ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read query outside any runner (for readers, status and tests)."""
        ...

    async def close(self) -> None: ...


class Sink(Protocol[C]):
    """Where a projection's read model lives."""

    @property
    def database(self) -> ProjectionDatabase:
        """The database holding this projection's checkpoint (and, for SQL, its tables)."""
        ...

    def begin(self, session: Session, version: int, *, out_of_order: bool = False) -> C:
        """A fresh write context for one batch (`out_of_order`: a retried dead letter)."""
        ...

    async def flush(self, batch: C) -> WriteBuffer | None:
        """Same-database sinks return the batch's buffered writes for the checkpoint's
        transaction; others write now, idempotently, and return None."""
        ...

    def create_ddl(self, version: int) -> list[str]: ...

    def activate_ddl(self, version: int) -> list[str]: ...

    def reset_ddl(self, version: int) -> list[str]:
        """Statements that put the build's tables back as `create_ddl` made them."""
        ...

    def drop_ddl(self, version: int) -> list[str]: ...

    async def clear(self, version: int, epoch: int) -> None:
        """Remove the build's data outside the database (a rebuild or drop); `epoch` is
        the build's epoch after its reset, which runners of older epochs are below."""
        ...
