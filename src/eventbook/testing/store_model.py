"""A plain in-memory model of the event-store contract, for the property-based test
(`eventbook.testing.property`): what a store must answer, given what was appended.

It knows the global order of every event (the order the appends were acknowledged in,
kept as each event's `seq`) but not every position in advance: a position is learnt the
first time the store shows it (an append's result, a read), and from then on must never
change. Positions are opaque; the model compares them only with the store's own.

Events removed by a tombstone, a truncation or a purge stay in the model, marked
`removed`: their positions still take part in the order check (so no later event may
reuse one), and a subscription that fetched them before they went may still hand them
over. The lifecycle operations themselves (delete, tombstone, truncate, retention, purge,
snapshots) are taught in `eventbook.testing.store_lifecycle_model`, a subclass.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventbook._store.types import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    Expected,
    NewEvent,
    Position,
    RecordedEvent,
    category_of,
)


class ContractBroken(AssertionError):
    """The store answered something the contract does not allow."""


@dataclass
class Stored:
    """One event as the model holds it."""

    seq: int
    """Its place in the global order (the order of acknowledgement)."""
    id: UUID | None
    """None for a system event until the store shows it (the store picks its id)."""
    stream: str
    version: int
    type: str
    data: dict[str, Any]
    position: Position | None = None
    """Learnt from the store the first time it shows it."""
    removed: bool = False


@dataclass
class StreamLife:
    """What the store keeps about a stream besides its events (`StreamMarks`)."""

    first_version: int = 1
    """The lowest version readers see."""
    last_version: int = 0
    """The last version written when a mark was set."""
    deleted: bool = False
    tombstoned: bool = False
    max_count: int | None = None
    max_age: timedelta | None = None


@dataclass(frozen=True)
class Outcome:
    """What an operation must do: `"append"` (or the operation itself), `"replay"` (of
    the events up to `event`), `"duplicate"`, `"conflict"` (at `actual`), `"deleted"`
    (`hard` or not), `"missing"` (`StreamNotFound`), `"unchanged"` (None), `"invalid"`
    (`ValidationError`); `cut` is where a truncation cuts."""

    kind: str
    event: Stored | None = None
    """For a replay: the stored event whose version and position the store answers."""
    actual: int = 0
    hard: bool = False
    cut: int = 0


@dataclass(frozen=True)
class Batch:
    """An acknowledged append: what a client would send again after a lost reply."""

    stream: str
    events: tuple[NewEvent, ...]
    result: AppendResult


@dataclass
class StoreModel:
    everything: list[Stored] = field(default_factory=list)
    """Every event ever acknowledged, removed ones too, in the global order."""
    batches: list[Batch] = field(default_factory=list)
    by_id: dict[UUID, Stored] = field(default_factory=dict)
    lives: dict[str, StreamLife] = field(default_factory=dict)

    def life(self, stream: str) -> StreamLife:
        return self.lives.setdefault(stream, StreamLife())

    # -- what is stored ----------------------------------------------------------------------

    @property
    def log(self) -> list[Stored]:
        """The events still stored, in the global order (what `read_all` yields)."""
        return [e for e in self.everything if not e.removed]

    def held(self, stream: str) -> list[Stored]:
        """The stream's stored events, also those a deletion hides from its readers."""
        return [e for e in self.everything if e.stream == stream and not e.removed]

    def stream(self, stream: str) -> list[Stored]:
        """What reading the stream yields: nothing below its first visible version."""
        first = self.life(stream).first_version
        return [e for e in self.held(stream) if e.version >= first]

    def held_version(self, stream: str) -> int:
        """`stream_version`: the version of the stream's newest stored event, else 0."""
        events = self.held(stream)
        return events[-1].version if events else 0

    def version(self, stream: str) -> int:
        """The last version ever written (what expectations are checked against)."""
        return max(self.held_version(stream), self.life(stream).last_version)

    def known(self) -> list[Stored]:
        """The stored events whose position the store has shown."""
        return [e for e in self.log if e.position is not None]

    def removed_known(self) -> list[Stored]:
        """The removed events whose position the store showed before they went."""
        return [e for e in self.everything if e.removed and e.position is not None]

    def after(self, seq: int) -> list[Stored]:
        """The stored events after the one with this `seq` (all of them for -1)."""
        return [e for e in self.everything if e.seq > seq and not e.removed]

    def removed_event(self, seen: RecordedEvent) -> Stored | None:
        """The removed event the store just handed over, if it is one. Its id, stream and
        version may be stored again since (a retry after a purge): the position tells
        them apart, as it must fit the global order."""
        return next(
            (
                e
                for e in self.everything
                if e.removed
                and (e.id, e.stream, e.version) == (seen.id, seen.stream, seen.version)
                and self.fits(e, seen.position)
            ),
            None,
        )

    def fits(self, event: Stored, position: Position) -> bool:
        """Whether `event` may be at `position`: its own if known, else one between the
        known positions of the events before and after it in the global order."""
        if event.position is not None:
            return event.position == position
        before = [e.position for e in self.everything[: event.seq] if e.position is not None]
        after = [e.position for e in self.everything[event.seq + 1 :] if e.position is not None]
        return (not before or before[-1] < position) and (not after or position < after[0])

    # -- appends -----------------------------------------------------------------------------

    def predict(
        self, stream: str, events: Sequence[NewEvent], expected: Expected, restart: bool = False
    ) -> Outcome:
        """What appending `events` must do: ids are looked at first (a retry is answered
        whatever `expected` says, as long as all its events are still stored), then the
        stream's deletion marks, then the expectation."""
        stored = [self.by_id[e.id] for e in events if e.id in self.by_id]
        if any(not e.removed for e in stored):
            if _stored_as_sent(stored, stream, events):
                return Outcome("replay", event=stored[-1])
            return Outcome("duplicate")
        life = self.life(stream)
        actual = self.version(stream)
        if life.tombstoned or (life.deleted and not restart):
            return Outcome("deleted", hard=life.tombstoned)
        if life.deleted and (expected is NO_STREAM or expected == 0):  # what readers see
            return Outcome("append")
        return Outcome("append") if meets(expected, actual) else Outcome("conflict", actual=actual)

    def record(self, stream: str, events: Sequence[NewEvent], result: AppendResult) -> None:
        """An acknowledged append of new events, checked against what it must have done."""
        version = self.version(stream)
        if result.replayed or result.version != version + len(events):
            raise ContractBroken(f"append to {stream} at {version} answered {result}")
        self._check_after_everything(result.position, f"append to {stream}")
        self.life(stream).deleted = False  # a restart begins a new history
        for offset, new in enumerate(events, start=1):
            stored = self._add(new.id, stream, version + offset, new.type, dict(new.data))
            self.by_id[new.id] = stored
        self.everything[-1].position = result.position
        self.batches.append(Batch(stream, tuple(events), result))

    def record_system(
        self, stream: str, type: str, data: dict[str, Any], result: AppendResult
    ) -> None:
        """The system event a lifecycle change appended to `stream` (a `$$` stream)."""
        version = self.held_version(stream) + 1
        if result.version != version or result.replayed:
            raise ContractBroken(f"{type} landed at {result}, not at {stream}@{version}")
        self._check_after_everything(result.position, type)
        self._add(None, stream, version, type, data).position = result.position

    def remove(self, stream: str, before: int) -> None:
        for event in self.held(stream):
            if event.version < before:
                event.removed = True

    def _add(
        self, event_id: UUID | None, stream: str, version: int, type: str, data: dict[str, Any]
    ) -> Stored:
        stored = Stored(len(self.everything), event_id, stream, version, type, data)
        self.everything.append(stored)
        return stored

    def _check_after_everything(self, position: Position, what: str) -> None:
        """New events land after every event ever seen, removed ones included."""
        newest = next(
            (e.position for e in reversed(self.everything) if e.position is not None), None
        )
        if newest is not None and not position > newest:
            raise ContractBroken(f"{what} answered {position}, not after {newest}")

    # -- reads -------------------------------------------------------------------------------

    def check(self, seen: Sequence[RecordedEvent], wanted: Sequence[Stored], what: str) -> None:
        """`seen` (the store's answer) is `wanted`, event for event; positions and system
        event ids it shows for the first time are learnt, and positions must rise along
        the global order, removed events included."""
        got = [(e.stream, e.version) for e in seen]
        expected = [(e.stream, e.version) for e in wanted]
        if got != expected:
            raise ContractBroken(f"{what}: got {_short(got)}, wanted {_short(expected)}")
        for recorded, model in zip(seen, wanted, strict=True):
            if model.id is None:
                model.id = recorded.id
            if recorded.id != model.id:
                raise ContractBroken(f"{what}: {recorded.stream}@{recorded.version} has another id")
            if (recorded.type, recorded.data) != (model.type, model.data):
                raise ContractBroken(f"{what}: {recorded} holds other content than {model}")
            if recorded.category != category_of(model.stream):
                raise ContractBroken(f"{what}: {recorded.category} is not {model.stream}'s")
            if recorded.recorded_at.utcoffset() is None:
                raise ContractBroken(f"{what}: {recorded.recorded_at} has no time zone")
            if model.position is None:
                model.position = recorded.position
            elif model.position != recorded.position:
                raise ContractBroken(f"{what}: {model.id} moved to {recorded.position}")
        self.check_order()

    def check_order(self) -> None:
        known = [e.position for e in self.everything if e.position is not None]
        if any(not later > earlier for earlier, later in itertools.pairwise(known)):
            raise ContractBroken(f"positions out of the global order: {known}")


@dataclass
class Subscription:
    """An open subscription and how far it has been read."""

    events: AsyncIterator[RecordedEvent]
    types: list[str] | None
    categories: list[str] | None
    last: int = -1
    """The `seq` of the last event it handed over (or it started after); -1: the start."""

    def pending(self, model: StoreModel) -> list[Stored]:
        """What it must yield next, in order (a removed event it may yield besides)."""
        return matching(model.after(self.last), self.types, self.categories)

    def may_yield_removed(self, event: Stored) -> bool:
        """A removed event it may have fetched before the removal: later than the last
        one handed over, and one it asked for."""
        return event.seq > self.last and bool(matching([event], self.types, self.categories))

    def __str__(self) -> str:
        return f"after #{self.last}, types={self.types}, categories={self.categories}"


def meets(expected: Expected, actual: int) -> bool:
    if expected is ANY:
        return True
    if expected is NO_STREAM:
        return actual == 0
    if expected is STREAM_EXISTS:
        return actual > 0
    return actual == expected


def matching(
    events: Sequence[Stored], types: Sequence[str] | None, categories: Sequence[str] | None
) -> list[Stored]:
    """`events` that a read with these filters yields."""
    return [
        e
        for e in events
        if (types is None or e.type in types)
        and (categories is None or category_of(e.stream) in categories)
    ]


def _stored_as_sent(stored: Sequence[Stored], stream: str, sent: Sequence[NewEvent]) -> bool:
    """Whether every sent event is stored, in `stream`, at consecutive versions in the
    order sent, with the same content: then the store answers it as a retry."""
    return (
        len(stored) == len(sent)
        and all(not e.removed and e.stream == stream for e in stored)
        and all(e.version == stored[0].version + n for n, e in enumerate(stored))
        and all(
            (a.id, a.type, a.data) == (b.id, b.type, dict(b.data))
            for a, b in zip(stored, sent, strict=True)
        )
    )


def _short(items: list[tuple[str, int]]) -> str:
    return str([f"{stream}@{version}" for stream, version in items])
