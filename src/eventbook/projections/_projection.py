"""What a projection is: a name, a version, a sink, and one handler per event type.

A projection is plain data. The same object runs inline (inside the append's own
transaction) or asynchronously (in the daemon); where it runs is decided by the code
that registers it, never by the projection.
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from eventbook._errors import ValidationError
from eventbook._store.types import RecordedEvent

if TYPE_CHECKING:
    from eventbook.projections._ports import Sink

C = TypeVar("C")
"""The write context a sink hands to handlers (a SQL batch, a Redis stream batch...)."""

Handler = Callable[[RecordedEvent, C], Awaitable[None] | None]
"""`handler(event, batch)`: record the read-model writes for one event.

Plain functions and `async def` functions are both accepted; an async handler may
await the batch's reads (`await batch.fetch(...)`)."""

PartitionKey = Callable[[RecordedEvent], str]
"""Names the partition group of a stored event (before upcasting): events with the same
key are handled in their global order, by one partition. The default is the stream."""

RecordUpcaster = Callable[[RecordedEvent], RecordedEvent]
"""Turns a whole stored event into its current shape before any handler sees it (the
write side's `eventbook.Upcaster` steps one event type's data dict up one version)."""

BatchUpcaster = Callable[[Sequence[RecordedEvent]], Awaitable[Sequence[RecordedEvent]]]
"""The whole-batch, async form, e.g. `EventRegistry.upcast` (which also runs the
registry's decoding stages); it must return one event per event, in order."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")
MAX_PARTITIONS = 256
"""A partition is a lease, a checkpoint row and (on PostgreSQL) a connection: more than
this would spend connections rather than buy throughput."""


class OnFailure(enum.Enum):
    """What the runner does once an event has failed `max_attempts` times."""

    SKIP = "skip"
    """Park the event and go on with the next ones."""
    STOP = "stop"
    """Park the event and halt the projection until an operator retries or discards it."""


@dataclass(frozen=True)
class HandlerRetry:
    """How often an event a handler fails on is retried, how long to wait between
    attempts, and what to do after the last one (the command bus has its own
    `eventbook.RetryPolicy`, for commands that meet a concurrent write)."""

    max_attempts: int = 5
    backoff: float = 0.1
    """Seconds before the second attempt; each later wait doubles, up to `max_backoff`."""
    max_backoff: float = 10.0
    on_failure: OnFailure = OnFailure.SKIP

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError(f"max_attempts must be 1 or more, not {self.max_attempts}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValidationError("backoff and max_backoff must not be negative")

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after the `failed_attempts`-th failure."""
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, failed_attempts - 1)))


class HandlerMap(dict[str, "Handler[C]"], Generic[C]):
    """A dict of event type -> handler with a small decorator to fill it::

    handlers: HandlerMap[SqlBatch] = HandlerMap()

    @handlers.on("OrderPlaced")
    async def placed(event, batch): ...
    """

    def on(self, *event_types: str) -> Callable[[Handler[C]], Handler[C]]:
        def register(handler: Handler[C]) -> Handler[C]:
            for event_type in event_types:
                if event_type in self:
                    raise ValidationError(f"a handler for {event_type!r} is registered already")
                self[event_type] = handler
            return handler

        return register


@dataclass(frozen=True, eq=False)
class Projection(Generic[C]):
    """One read model: the events it handles, how, and where it writes them.

    `version` names a build of the read model: a new version is built beside the old
    one (its own tables and checkpoint) and replaces it when it has caught up.
    """

    name: str
    sink: Sink[C]
    handlers: Mapping[str, Handler[C]]
    version: int = 1
    categories: frozenset[str] | None = None
    """Only events of streams in these categories (`order` for `order-42`); None: all."""
    upcast: RecordUpcaster | None = None
    """Applied to every event before its handler runs (the write side's upcaster chain)."""
    upcast_batch: BatchUpcaster | None = None
    """Applied to every batch before its handlers run (`registry.upcast`); after it,
    `upcast` (if both are given)."""
    retry: HandlerRetry = field(default_factory=HandlerRetry)
    batch_size: int | None = None
    """Most events per transaction; None uses the daemon's setting."""
    partitions: int = 1
    """Split the build into this many partitions, each with its own checkpoint and lease,
    so that daemons in several processes share the work. Events of one partition key
    (`partition_key`, the stream by default) keep their global order; events of different
    keys do not (see docs/projections.md)."""
    partition_key: PartitionKey | None = None
    """The key an event is partitioned by; None: its stream."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValidationError(
                f"projection name {self.name!r} must start with a letter and hold only"
                " letters, digits, '_', '.' or '-' (at most 100 characters)"
            )
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise ValidationError(f"projection version must be an int, not {self.version!r}")
        if self.version < 1:
            raise ValidationError(f"projection version must be 1 or more, not {self.version}")
        if not isinstance(self.handlers, Mapping) or not self.handlers:
            raise ValidationError(f"projection {self.name!r} needs at least one handler")
        for event_type, handler in self.handlers.items():
            if not isinstance(event_type, str) or not event_type:
                raise ValidationError(f"handler keys must be event type names, not {event_type!r}")
            if not callable(handler):
                raise ValidationError(f"the handler for {event_type!r} is not callable")
        if self.categories is not None:
            object.__setattr__(self, "categories", _names("category", self.categories))
        if self.batch_size is not None and self.batch_size < 1:
            raise ValidationError(f"batch_size must be 1 or more, not {self.batch_size}")
        if isinstance(self.partitions, bool) or not isinstance(self.partitions, int):
            raise ValidationError(f"partitions must be an int, not {self.partitions!r}")
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ValidationError(
                f"partitions must be between 1 and {MAX_PARTITIONS}, not {self.partitions}"
            )
        if self.partition_key is not None and not callable(self.partition_key):
            raise ValidationError("partition_key must be a function of the event")

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self.handlers)

    @property
    def label(self) -> str:
        """`name@vN`, the way logs and errors name this build."""
        return f"{self.name}@v{self.version}"

    def partition_of(self, event: RecordedEvent) -> int:
        """The partition that handles `event`: a stable hash (CRC-32, the same in every
        process and release, unlike Python's salted `hash()`) of its key, modulo the count."""
        if self.partitions == 1:
            return 0
        key = event.stream if self.partition_key is None else self.partition_key(event)
        if not isinstance(key, str):
            raise ValidationError(f"{self.label}: partition_key must return a str, not {key!r}")
        return zlib.crc32(key.encode()) % self.partitions

    def read_filter(self) -> tuple[frozenset[str] | None, frozenset[str] | None]:
        """The (types, categories) to ask the store for.

        With an upcaster the stored type may differ from the handled one, so types are
        then filtered here, after upcasting, rather than by the store.
        """
        upcasting = self.upcast is not None or self.upcast_batch is not None
        types = None if upcasting else self.event_types
        return types, self.categories


def _names(what: str, names: Iterable[str]) -> frozenset[str]:
    chosen = frozenset([names] if isinstance(names, str) else names)
    if not chosen or not all(isinstance(n, str) and n for n in chosen):
        raise ValidationError(f"{what} filter must be a non-empty collection of names")
    return chosen
