"""The port's value types: records, positions, expected versions, filters, batches.

Both sides of the port use them: callers build `NewEvent`s and read `RecordedEvent`s,
backends receive `EncodedBatch`es. They depend on nothing but the errors, so every
module can import them at the top.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from eventbook._errors import ConcurrencyError, ValidationError
from eventbook._store.ids import uuid7


class ExpectedVersion(enum.Enum):
    """What an append expects of its stream, besides an exact version number."""

    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"


ANY = ExpectedVersion.ANY
NO_STREAM = ExpectedVersion.NO_STREAM
STREAM_EXISTS = ExpectedVersion.STREAM_EXISTS

Expected = ExpectedVersion | int
"""`ANY`, `NO_STREAM`, `STREAM_EXISTS`, or the exact current version (0 means no stream)."""


class Position(msgspec.Struct, frozen=True, order=True, gc=False):
    """An opaque, totally ordered place in the global order of one store.

    Treat it as a token: compare it, store `str(position)`, read it back with
    `Position.parse`. Backends with a single sequence use `major == 0`.
    """

    major: int
    minor: int

    def __str__(self) -> str:
        return str(self.minor) if self.major == 0 else f"{self.major}:{self.minor}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """Read back a position written with `str()`."""
        match = _POSITION_PATTERN.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValidationError(f"not a position: {text!r} (expected '123' or '45:123')")
        major, minor = match.group(1), match.group(2)
        return cls(int(major) if major else 0, int(minor))


_POSITION_PATTERN = re.compile(r"(?:([0-9]{1,19}):)?([0-9]{1,19})")  # ASCII digits only


class NewEvent(msgspec.Struct, frozen=True):
    """An event about to be appended. `data` and `metadata` must be JSON objects."""

    type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    id: UUID = msgspec.field(default_factory=uuid7)


class RecordedEvent(msgspec.Struct, frozen=True, gc=False):
    """An event as the store keeps it."""

    id: UUID
    stream: str
    version: int
    position: Position
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def category(self) -> str:
        return category_of(self.stream)


class SchemaTag(msgspec.Struct, frozen=True, gc=False):
    """The one metadata entry a replay looks at: the schema version typed-event
    registries stamp on each event (see `eventbook._write.messages`); 1 when absent."""

    schema_version: Any = 1


class ReplayRecord(msgspec.Struct, frozen=True, gc=False):
    """An event as replaying an aggregate needs it: its version, type and schema tag, and
    its data still encoded, so that a registry decodes it straight into its typed class
    (no dict in between, no id, position or time parsed)."""

    version: int
    type: str
    data: msgspec.Raw
    metadata: SchemaTag


class Snapshot(msgspec.Struct, frozen=True, gc=False):
    """An aggregate's state as of one stream version, tagged with its schema."""

    stream: str
    version: int
    schema: str
    state: dict[str, Any]
    taken_at: datetime


class AppendResult(msgspec.Struct, frozen=True, gc=False):
    """Where an append landed: the stream version and global position of its last event.

    `replayed` is True when the batch was stored already (a retry after a lost reply): the
    result is the original one and nothing was written this time.
    """

    version: int
    position: Position
    replayed: bool = False


def check_expected(stream: str, expected: Expected, actual: int) -> None:
    """Raise `ConcurrencyError` unless a stream at version `actual` meets `expected`."""
    if expected is ANY:
        return
    if expected is NO_STREAM:
        ok = actual == 0
    elif expected is STREAM_EXISTS:
        ok = actual > 0
    else:
        ok = actual == expected
    if not ok:
        raise ConcurrencyError(stream, expected, actual)


def category_of(stream: str) -> str:
    """The category of a stream: its name up to the first '-' (`order-42` -> `order`)."""
    return stream.split("-", 1)[0]


class EventFilter(msgspec.Struct, frozen=True):
    """Which events a global read or subscription wants; `None` means all."""

    types: frozenset[str] | None = None
    categories: frozenset[str] | None = None

    @classmethod
    def of(cls, types: Iterable[str] | None, categories: Iterable[str] | None) -> EventFilter:
        return cls(_name_set("type", types), _name_set("category", categories))

    def matches(self, event: RecordedEvent) -> bool:
        return (self.types is None or event.type in self.types) and (
            self.categories is None or event.category in self.categories
        )


def _name_set(what: str, names: Iterable[str] | None) -> frozenset[str] | None:
    if names is None:
        return None
    if isinstance(names, str):
        names = (names,)
    chosen = frozenset(names)
    if not chosen or not all(isinstance(n, str) and n for n in chosen):
        raise ValidationError(f"{what} filter must be a non-empty collection of names")
    return chosen


class EncodedEvent(msgspec.Struct, frozen=True, gc=False):
    """A validated event with its JSON already encoded, ready for a backend to write.

    `recorded_at` is None for an ordinary append (the backend stamps the time it stores
    the event); `EventStore.import_events` sets it to keep a copied event's original time,
    and every backend's `_append` must store exactly that value then.
    """

    id: UUID
    type: str
    data: bytes
    metadata: bytes
    recorded_at: datetime | None = None


class EncodedBatch(msgspec.Struct, frozen=True, gc=False):
    """A validated append request."""

    stream: str
    expected: Expected
    events: tuple[EncodedEvent, ...]
    restart: bool = False
    """Start a new history if the stream was soft-deleted (see `EventStore.append`)."""
