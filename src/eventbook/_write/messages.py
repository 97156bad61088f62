"""Typed events <-> store records: the type registry and the serialisation pipeline.

Events are plain typed classes (msgspec `Struct`s or dataclasses, or any class with an
explicit encoder and decoder). Each has a stable name — the class name unless given —
which is what the store keeps, never a Python import path, and a schema version, kept
in the event's metadata under `schema_version`.

Writing (`serialise`):  typed event -> plain data -> [stages] -> `NewEvent`
Reading (`upcast`):     `RecordedEvent` -> [stages, reversed] -> upcasters -> current shape
Reading (`deserialise`): `upcast`, then plain data -> typed event

Stages are the one place where a step over the stored form of every event sits (the
seam kept for encrypting personal fields); upcasters always see the plain data.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

import msgspec

from eventbook._errors import EventSchemaError, UnknownEventType, ValidationError
from eventbook._store.encoding import check_name
from eventbook._store.ids import uuid7
from eventbook._store.types import NewEvent, RecordedEvent, ReplayRecord
from eventbook._write.replay import ReplayDecoders
from eventbook._write.upcasting import Upcaster, Upcasters, version_mismatch

SCHEMA_VERSION = "schema_version"
"""The metadata key holding an event's schema version (1 when absent)."""

T = TypeVar("T")

OnUnknown = Literal["raise", "keep"]
"""What `deserialise` does with a stored type no class is registered for."""


class PipelineStage(Protocol):
    """One reversible step between the plain form of events and what the store keeps.

    `encode` runs on every batch about to be appended, `decode` on every batch read,
    before upcasting. Both work on whole batches and may await (to fetch keys, say).

    A stage may also define `async seal_state(stream, state) -> state` and
    `async open_state(stream, state) -> state | None`: repositories run snapshot states
    through them (None: the snapshot cannot be read any more; the stream is replayed).
    """

    async def encode(self, stream: str, events: list[NewEvent]) -> list[NewEvent]: ...

    async def decode(self, events: list[RecordedEvent]) -> list[RecordedEvent]: ...


@dataclasses.dataclass(frozen=True)
class EventType:
    """What the registry knows about one event class."""

    cls: type[Any]
    name: str
    version: int
    encode: Callable[[Any], dict[str, Any]]
    decode: Callable[[dict[str, Any]], Any]
    decode_many: Callable[[list[dict[str, Any]]], list[Any]] | None = None
    """Decodes a run of events at once (one msgspec call); None for custom decoders."""


class EventRegistry:
    """Maps stable event names to classes, and converts between events and records.

    Build one in the composition root and hand it to repositories (and projections)::

        events = EventRegistry([OrderPlaced, OrderShipped])
        events.register(OrderCancelled, name="order-cancelled", version=2)
        events.add_upcaster("order-cancelled", 1, add_reason)
    """

    def __init__(
        self, events: Iterable[type[Any]] = (), *, stages: Sequence[PipelineStage] = ()
    ) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_class: dict[type[Any], EventType] = {}
        self._versions: dict[str, int] = {}
        self._upcasters = Upcasters()
        self._stages = tuple(stages)
        self._replay = ReplayDecoders(self._by_name)
        for cls in events:
            self.register(cls)

    # -- registration ----------------------------------------------------------------------

    def register(
        self,
        cls: type[T],
        *,
        name: str | None = None,
        version: int = 1,
        encoder: Callable[[T], dict[str, Any]] | None = None,
        decoder: Callable[[dict[str, Any]], T] | None = None,
    ) -> type[T]:
        """Register an event class under `name` (default: the class name) at `version`.

        msgspec Structs and dataclasses need nothing more. Other classes (pydantic models,
        say) pass `encoder` (event -> JSON object) and `decoder` (JSON object -> event).
        Returns the class.
        """
        if not isinstance(cls, type):
            raise ValidationError(f"register() takes an event class, not {cls!r}")
        stable_name = cls.__name__ if name is None else name
        check_name("event type name", stable_name)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValidationError(f"the schema version of {stable_name} must be an int >= 1")
        if (encoder is None) != (decoder is None):
            raise ValidationError(f"{stable_name}: give both an encoder and a decoder, or neither")
        if stable_name in self._by_name:
            raise ValidationError(
                f"the event name {stable_name!r} is taken by {self._by_name[stable_name].cls!r}"
            )
        if cls in self._by_class:
            raise ValidationError(f"{cls!r} is registered already, as {self._by_class[cls].name!r}")
        if self._upcasters.moves_on(stable_name, version):
            raise ValidationError(
                f"an upcaster takes {stable_name} v{version} further, so it cannot be current"
            )
        decode_many = None
        if encoder is None or decoder is None:
            encoder, decoder = _plain_codec(cls, stable_name)
            decode_many = functools.partial(msgspec.convert, type=list[cls])  # type: ignore[valid-type]
        entry = EventType(cls, stable_name, version, encoder, decoder, decode_many)
        self._by_name[stable_name] = entry
        self._by_class[cls] = entry
        self._versions[stable_name] = version
        return cls

    def add_upcaster(
        self,
        name: str,
        from_version: int,
        upcaster: Upcaster | None = None,
        *,
        rename_to: str | None = None,
    ) -> None:
        """Read stored `name` data at `from_version` as version `from_version + 1`.

        `upcaster` takes the data (a copy of its own) and returns the new data. With
        `rename_to`, the data continues as that type — a rename is an upcast too.
        """
        check_name("event type name", name)
        if rename_to is not None:
            check_name("event type name", rename_to)
        current = self._versions.get(name)
        if current is not None and current == from_version:
            raise ValidationError(
                f"{name} is registered at version {from_version}; an upcaster from it would"
                " make registered data unreadable"
            )
        self._upcasters.add(name, from_version, upcaster, rename_to=rename_to)

    # -- lookups ---------------------------------------------------------------------------

    def type_of(self, event_or_class: object) -> EventType:
        """The registration of an event (or event class); raises if there is none."""
        cls = event_or_class if isinstance(event_or_class, type) else type(event_or_class)
        entry = self._by_class.get(cls)
        if entry is None:
            raise ValidationError(
                f"{cls.__qualname__} is not a registered event class; register it with"
                " EventRegistry.register()"
            )
        return entry

    def name_of(self, event_or_class: object) -> str:
        return self.type_of(event_or_class).name

    def class_of(self, name: str) -> type[Any]:
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownEventType(name)
        return entry.cls

    def version_of(self, name: str) -> int:
        """The current schema version of a registered event name."""
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownEventType(name)
        return entry.version

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    # -- the synchronous core: no stages ---------------------------------------------------

    def to_data(self, event: object) -> tuple[str, int, dict[str, Any]]:
        """An event's stable name, schema version and plain (JSON) data."""
        entry = self.type_of(event)
        try:
            data = entry.encode(event)
        except (TypeError, ValueError, msgspec.MsgspecError) as exc:
            raise ValidationError(f"{entry.name} cannot be encoded: {exc}") from exc
        if not isinstance(data, dict):
            raise ValidationError(
                f"{entry.name} encodes to a {type(data).__name__}; events must encode to a dict"
            )
        return entry.name, entry.version, data

    def from_data(self, name: str, version: int, data: dict[str, Any]) -> Any:
        """The typed event for plain data stored as `name` at schema `version`."""
        name, version, data = self._upcasters.upcast(name, version, data, self._versions)
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownEventType(name)
        return _decode(entry, data)

    # -- the pipeline ----------------------------------------------------------------------

    async def serialise(
        self,
        stream: str,
        events: Sequence[object],
        *,
        metadata: Mapping[str, Any] | None = None,
        ids: Sequence[UUID] | None = None,
    ) -> list[NewEvent]:
        """Typed events -> `NewEvent`s for `stream`, each with `metadata` and its version."""
        if ids is not None and len(ids) != len(events):
            raise ValidationError(f"{len(events)} events but {len(ids)} ids")
        base = dict(metadata) if metadata else {}
        new = []
        for index, event in enumerate(events):
            name, version, data = self.to_data(event)
            stamped = {**base, SCHEMA_VERSION: version}
            new.append(NewEvent(name, data, stamped, ids[index] if ids is not None else uuid7()))
        for stage in self._stages:
            new = await stage.encode(stream, new)
        return new

    async def seal_state(self, stream: str, state: dict[str, Any]) -> dict[str, Any]:
        """A snapshot state as the store should keep it (the stages' `seal_state`)."""
        for stage in self._stages:
            seal = getattr(stage, "seal_state", None)
            if seal is not None:
                state = await seal(stream, state)
        return state

    async def open_state(self, stream: str, state: dict[str, Any]) -> dict[str, Any] | None:
        """A stored snapshot state made readable, or None if a stage can no longer read it."""
        opened: dict[str, Any] | None = state
        for stage in reversed(self._stages):
            open_state = getattr(stage, "open_state", None)
            if open_state is not None and opened is not None:
                opened = await open_state(stream, opened)
        return opened

    async def upcast(self, events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
        """Stored events as the current code reads them: decoded by the stages, then upcast.

        Every reader of stored events calls this (repositories, projections, tools), so that
        old data is read in one way everywhere. Events of types that are not registered
        come back as far as their upcasters take them.
        """
        decoded = list(events)
        for stage in reversed(self._stages):
            decoded = await stage.decode(decoded)
        if not self._upcasters:
            return decoded
        return [self._upcast_one(event) for event in decoded]

    async def deserialise(
        self, events: Sequence[RecordedEvent], *, unknown: OnUnknown = "raise"
    ) -> list[Any]:
        """Stored events -> typed events, in order.

        A type that is not registered raises `UnknownEventType`, or with `unknown="keep"`
        is returned as its (upcast) `RecordedEvent`.
        """
        decoded = await self.upcast(events)
        by_name = self._by_name.get

        def usual(event: RecordedEvent) -> EventType | None:
            """The event's registered type if it is stored at that type's current version."""
            entry = by_name(event.type)
            if entry is None or event.metadata.get(SCHEMA_VERSION, 1) != entry.version:
                return None
            return entry

        # The common case, kept lean (replays decode thousands of events at once): runs of
        # events of one registered type at its current version, each decoded in one call.
        typed: list[Any] = []
        for entry, run in itertools.groupby(decoded, key=usual):
            if entry is None:
                typed += [self._unusual(event, by_name(event.type), unknown) for event in run]
            else:
                typed += _decode_run(entry, list(run))
        return typed

    @property
    def decodes_replays(self) -> bool:
        """Whether `decode_replayed` can take replay records: no stage needs the events, and
        no registered class needs the full pipeline on every replay."""
        return not self._stages and self._replay.every_type_decodes()

    def decode_replayed(self, records: list[ReplayRecord]) -> list[Any] | None:
        """Replay records (`EventStore.replay_pages`) straight into typed events, or None
        when they need the full pipeline: stages, upcasters, a type without a class, data
        that does not fit. Read them as `RecordedEvent`s through `deserialise` then."""
        return None if self._stages else self._replay.decode(records)

    def _unusual(self, event: RecordedEvent, entry: EventType | None, unknown: OnUnknown) -> Any:
        """An unregistered type, or a version no upcaster brought to the registered one."""
        if entry is None:
            if unknown == "keep":
                return event
            raise UnknownEventType(event.type, event)
        # upcast() took the event as far as upcasters go; say what is missing
        version = event.metadata.get(SCHEMA_VERSION, 1)
        problem = version_mismatch(event.type, version, entry.version)
        raise EventSchemaError(f"stream {event.stream!r} version {event.version}: {problem}")

    def _upcast_one(self, event: RecordedEvent) -> RecordedEvent:
        version = event.metadata.get(SCHEMA_VERSION, 1)
        if not self._upcasters.moves_on(event.type, version):
            return event
        name, new_version, data = self._upcasters.upcast(
            event.type, version, event.data, self._versions
        )
        metadata = {**event.metadata, SCHEMA_VERSION: new_version}
        return msgspec.structs.replace(event, type=name, data=data, metadata=metadata)


def _decode_run(entry: EventType, run: list[RecordedEvent]) -> list[Any]:
    """Typed events for stored events of `entry`'s type and version."""
    if entry.decode_many is not None and len(run) > 1:
        try:
            return entry.decode_many([event.data for event in run])
        except (msgspec.ValidationError, TypeError, ValueError):
            pass  # one event does not fit: decoding them one by one says which
    typed = []
    for event in run:
        try:
            typed.append(entry.decode(event.data))
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            raise _does_not_fit(entry, event, exc) from exc
    return typed


def _decode(entry: EventType, data: dict[str, Any]) -> Any:
    try:
        return entry.decode(data)
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise _does_not_fit(entry, None, exc) from exc


def _does_not_fit(
    entry: EventType, event: RecordedEvent | None, exc: Exception
) -> EventSchemaError:
    place = f" at {event.stream!r} version {event.version}" if event is not None else ""
    return EventSchemaError(
        f"stored {entry.name} v{entry.version}{place} does not fit {entry.cls.__qualname__}: {exc}"
    )


def _plain_codec(
    cls: type[Any], name: str
) -> tuple[Callable[[Any], dict[str, Any]], Callable[[dict[str, Any]], Any]]:
    if issubclass(cls, msgspec.Struct):
        if cls.__struct_config__.array_like:
            raise ValidationError(f"{name}: array_like Structs do not encode to a JSON object")
    elif not dataclasses.is_dataclass(cls):
        raise ValidationError(
            f"{name} is neither a msgspec Struct nor a dataclass; pass encoder= and decoder="
        )

    # msgspec's own functions, bound to the class: no Python frame per event
    return msgspec.to_builtins, functools.partial(msgspec.convert, type=cls)
