"""The functional style of aggregate: a decider is three plain functions.

    order = Decider(
        name="Order",
        initial_state=OrderState,                 # () -> state
        decide=decide,                            # (command, state) -> list of events
        evolve=evolve,                            # (state, event) -> new state
    )

`DeciderAggregate` runs a decider wherever a class-style aggregate runs (repositories,
command handlers, snapshots), so both styles share every piece of machinery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec

from eventbook._write.aggregate import Aggregate

C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Decider(Generic[C, S, E]):
    """`decide(command, state) -> events`, `evolve(state, event) -> state`, `initial_state()`.

    `decide` raises a domain error when a rule is broken and returns `[]` when nothing
    happens. For snapshots, the state must be a msgspec Struct, a dataclass or plain JSON
    data; `state_type` tells how to read it back (default: the type of `initial_state()`).
    Raise `snapshot_version` whenever the state's shape changes.
    """

    name: str
    decide: Callable[[C, S], Sequence[E]]
    evolve: Callable[[S, E], S]
    initial_state: Callable[[], S]
    state_type: Any = None
    snapshot_version: int = 1

    def __post_init__(self) -> None:
        for field in ("decide", "evolve", "initial_state"):
            if not callable(getattr(self, field)):
                raise TypeError(f"Decider {self.name!r}: {field} must be callable")

    def fold(self, events: Sequence[E], state: S | None = None) -> S:
        """The state after `events`, from `state` (default: the initial state)."""
        current = self.initial_state() if state is None else state
        for event in events:
            current = self.evolve(current, event)
        return current


class DeciderAggregate(Aggregate[E], Generic[C, S, E]):
    """A decider seen as an aggregate: `state` evolves, `decide(command)` records events."""

    def __init__(self, decider: Decider[C, S, E]) -> None:
        super().__init__()
        self.decider = decider
        self.state: S = decider.initial_state()

    def decide(self, command: C) -> list[E]:
        """Run the decider on the current state and record what it returns."""
        events = self.decider.decide(command, self.state)
        if not isinstance(events, list | tuple):
            raise TypeError(
                f"{self.decider.name}.decide returned {type(events).__name__};"
                " it must return a list of events ([] when nothing happens)"
            )
        # Everything is decided before anything is recorded: a raise above records nothing.
        for event in events:
            self.record(event)
        return list(events)

    def apply(self, event: E) -> None:
        self.state = self.decider.evolve(self.state, event)

    def to_snapshot(self) -> dict[str, Any]:
        return {"state": msgspec.to_builtins(self.state)}

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        state_type = self.decider.state_type or type(self.decider.initial_state())
        self.state = msgspec.convert(state["state"], state_type)

    def snapshot_tag(self) -> str:
        return f"{self.decider.name}:{self.decider.snapshot_version}"

    def __repr__(self) -> str:
        return f"<{self.decider.name} {self.stream!r} v{self.version} {self.state!r}>"
