"""What every rule of the property-based contract test (`eventbook.testing.property`)
shares: the streams it writes, the store and the model, running a step on the machine's
loop, the expectations it draws, and how a refusal is checked against the model."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine

from eventbook._errors import (
    ConcurrencyError,
    DuplicateEventError,
    StreamDeleted,
    StreamNotFound,
    ValidationError,
)
from eventbook._store.port import EventStore
from eventbook._store.types import ANY, NO_STREAM, STREAM_EXISTS, Expected, NewEvent
from eventbook.testing.store_lifecycle_model import StoreLifecycleModel
from eventbook.testing.store_model import ContractBroken, Outcome

T = TypeVar("T")

STREAMS = ("order-1", "order-2", "order-3", "cart-1")
EXPECTATIONS = ("any", "no_stream", "zero", "exists", "current", "stale", "ahead")
STEP_TIMEOUT = 30.0
"""Seconds one step may take before the store is deemed stuck."""

_PICKS = 1 << 16
"""The range of the index `pick` draws: far more than any list it picks from."""


def pick(data: st.DataObject, choices: Sequence[T], label: str) -> T:
    """One of `choices` (not empty), drawn so that the draw does not depend on their number.

    The model's lists (batches, stored events, streams with events) depend on how racing
    appends came out, which differs between runs of the same steps. Hypothesis records
    every draw it has seen after a given prefix of steps and refuses one whose definition
    changed (`FlakyStrategyDefinition`): `sampled_from` of a list of another length is such
    a change, an index from a fixed range is not.
    """
    return choices[data.draw(st.integers(0, _PICKS - 1), label=label) % len(choices)]


REFUSALS = (ConcurrencyError, DuplicateEventError, StreamNotFound, ValidationError)
"""What a store may answer instead of a result (`StreamDeleted` is a `StreamNotFound`)."""


class StoreMachineBase(RuleBasedStateMachine):
    """The attributes `EventStoreMachine` sets, and the helpers its rules share."""

    store: EventStore
    model: StoreLifecycleModel
    loop: asyncio.AbstractEventLoop
    counter: itertools.count[int]
    lifecycle: bool
    """Whether the store offers the stream lifecycle (else its rules never run)."""

    def run(self, step: Awaitable[T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(step, STEP_TIMEOUT))

    def attempt(self, step: Awaitable[T]) -> tuple[T | None, Exception | None]:
        """The step's result, or the refusal it raised."""
        try:
            return self.run(step), None
        except REFUSALS as refused:
            return None, refused

    def expectation(self, stream: str, mode: str, ahead: int) -> Expected:
        current = self.model.version(stream)
        choices: dict[str, Expected] = {
            "any": ANY,
            "no_stream": NO_STREAM,
            "zero": 0,
            "exists": STREAM_EXISTS,
            "current": current,
            "stale": current - 1 if current > 0 else current + ahead,
            "ahead": current + ahead,
        }
        return choices[mode]

    def new_events(self, count: int, kind: str, note: str) -> list[NewEvent]:
        return [NewEvent(kind, {"n": next(self.counter), "note": note}) for _ in range(count)]


def check_refusal(outcome: Outcome, refused: Exception, what: str) -> None:
    """`refused` is the error `outcome` calls for."""
    if isinstance(refused, StreamDeleted):
        ok = outcome.kind == "deleted" and refused.hard == outcome.hard
    elif isinstance(refused, StreamNotFound):
        ok = outcome.kind == "missing"
    elif isinstance(refused, ConcurrencyError):
        ok = outcome.kind == "conflict" and refused.actual == outcome.actual
    elif isinstance(refused, DuplicateEventError):
        ok = outcome.kind == "duplicate"
    else:
        ok = outcome.kind == "invalid"
    if not ok:
        raise ContractBroken(f"{what}: refused ({refused!r}), wanted {outcome}")


async def together(*steps: Awaitable[Any], return_exceptions: bool = False) -> list[Any]:
    """`asyncio.gather` started on the machine's loop (not on whichever loop is current)."""
    return list(await asyncio.gather(*steps, return_exceptions=return_exceptions))


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]
