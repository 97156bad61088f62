"""A plain in-memory model of the event-store contract, for the property-based test
(`eventbook.testing.property`): what a store must answer, given what was appended.

It knows the global order of every event (the order the appends were acknowledged in)
but not every position in advance: a position is learnt the first time the store shows
it (an append's result, a read), and from then on must never change. Positions are
opaque; the model compares them only with the store's own.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
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

    id: UUID
    stream: str
    version: int
    type: str
    data: dict[str, Any]
    position: Position | None = None
    """Learnt from the store the first time it shows it."""


@dataclass(frozen=True)
class Batch:
    """An acknowledged append: what a client would send again after a lost reply."""

    stream: str
    events: tuple[NewEvent, ...]
    result: AppendResult


@dataclass(frozen=True)
class Outcome:
    """What an append must do: `"append"`, `"replay"` (of `batch`), `"duplicate"` or
    `"conflict"` (at `actual`)."""

    kind: str
    batch: Batch | None = None
    actual: int = 0


@dataclass
class StoreModel:
    log: list[Stored] = field(default_factory=list)
    """Every event, in the global order."""
    batches: list[Batch] = field(default_factory=list)
    by_id: dict[UUID, Stored] = field(default_factory=dict)

    # -- what is stored ----------------------------------------------------------------------

    def stream(self, stream: str) -> list[Stored]:
        return [e for e in self.log if e.stream == stream]

    def version(self, stream: str) -> int:
        events = self.stream(stream)
        return events[-1].version if events else 0

    def streams(self) -> list[str]:
        return sorted({e.stream for e in self.log})

    def known_positions(self) -> list[int]:
        """Indexes into `log` of the events whose position the store has shown."""
        return [index for index, e in enumerate(self.log) if e.position is not None]

    def after(self, index: int | None) -> list[Stored]:
        """The events after `log[index]` (all of them for None)."""
        return self.log if index is None else self.log[index + 1 :]

    # -- appends -----------------------------------------------------------------------------

    def predict(self, stream: str, events: Sequence[NewEvent], expected: Expected) -> Outcome:
        """What appending `events` must do: ids are looked at first (a retry is answered
        whatever `expected` says), then the expectation."""
        if any(e.id in self.by_id for e in events):
            for batch in self.batches:
                if batch.stream == stream and _same_batch(batch.events, events):
                    return Outcome("replay", batch)
            return Outcome("duplicate")
        actual = self.version(stream)
        if expected is ANY:
            ok = True
        elif expected is NO_STREAM:
            ok = actual == 0
        elif expected is STREAM_EXISTS:
            ok = actual > 0
        else:
            ok = actual == expected
        return Outcome("append") if ok else Outcome("conflict", actual=actual)

    def record(self, stream: str, events: Sequence[NewEvent], result: AppendResult) -> None:
        """An acknowledged append of new events, checked against what it must have done."""
        version = self.version(stream)
        if result.replayed or result.version != version + len(events):
            raise ContractBroken(f"append to {stream} at {version} answered {result}")
        newest = self.newest_position()
        if newest is not None and not result.position > newest:
            raise ContractBroken(f"append answered {result.position}, not after {newest}")
        for offset, new in enumerate(events, start=1):
            stored = Stored(new.id, stream, version + offset, new.type, dict(new.data))
            self.log.append(stored)
            self.by_id[new.id] = stored
        self.log[-1].position = result.position
        self.batches.append(Batch(stream, tuple(events), result))

    def newest_position(self) -> Position | None:
        return next((e.position for e in reversed(self.log) if e.position is not None), None)

    # -- reads -------------------------------------------------------------------------------

    def check(self, seen: Sequence[RecordedEvent], wanted: Sequence[Stored], what: str) -> None:
        """`seen` (the store's answer) is `wanted`, event for event; positions it shows for
        the first time are learnt, and must rise along the global order."""
        got = [(e.id, e.stream, e.version) for e in seen]
        expected = [(e.id, e.stream, e.version) for e in wanted]
        if got != expected:
            raise ContractBroken(f"{what}: got {_short(got)}, wanted {_short(expected)}")
        for recorded, model in zip(seen, wanted, strict=True):
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
        self._check_order()

    def _check_order(self) -> None:
        known = [e.position for e in self.log if e.position is not None]
        if any(not later > earlier for earlier, later in itertools.pairwise(known)):
            raise ContractBroken(f"positions out of the global order: {known}")


@dataclass
class Subscription:
    """An open subscription and how far it has been read."""

    events: AsyncIterator[RecordedEvent]
    start: int | None
    """It yields the model's events after this index (all of them for None)."""
    types: list[str] | None
    categories: list[str] | None
    delivered: int = 0

    def pending(self, model: StoreModel) -> list[Stored]:
        """What it must yield next, in order."""
        return matching(model.after(self.start), self.types, self.categories)[self.delivered :]

    def __str__(self) -> str:
        return f"after #{self.start}, types={self.types}, categories={self.categories}"


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


def _same_batch(stored: Sequence[NewEvent], sent: Sequence[NewEvent]) -> bool:
    return len(stored) == len(sent) and all(
        (a.id, a.type, dict(a.data)) == (b.id, b.type, dict(b.data))
        for a, b in zip(stored, sent, strict=True)
    )


def _short(items: list[tuple[UUID, str, int]]) -> str:
    return str([f"{stream}@{version}" for _, stream, version in items])
