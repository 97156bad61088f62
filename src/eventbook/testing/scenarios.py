"""Given / when / then specifications for aggregates and deciders, without a store.

    from eventbook.testing.scenarios import scenario

    def test_shipping_a_placed_order() -> None:
        scenario(Order).given(OrderPlaced(customer="ann", total=10)).when(
            lambda order: order.ship("DHL")
        ).then(OrderShipped(carrier="DHL"))

    def test_a_decider_refuses_to_ship_twice() -> None:
        scenario(order_decider).given(placed, shipped).when(ShipOrder("DHL")).then_error(
            AlreadyShipped
        )

`when` takes a function of the aggregate (class style), or a command (decider style:
`decide(command, state)` runs). With `events=registry`, every given and produced event
also goes through the registry's serialisation and upcasters, and `stored(...)` gives an
event in its stored form, so old schema versions can be given too.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar, overload

from eventbook._errors import ValidationError
from eventbook._store.encoding import decode_object, encode_object
from eventbook._write.aggregate import Aggregate, Bookkeeping
from eventbook._write.decider import Decider, DeciderAggregate
from eventbook._write.messages import EventRegistry

A = TypeVar("A", bound=Aggregate[Any])
C = TypeVar("C")
S = TypeVar("S")
E = TypeVar("E")
X = TypeVar("X", bound=BaseException)


@dataclass(frozen=True)
class Stored:
    """An event in its stored form: a type name, a schema version and plain data."""

    type: str
    data: dict[str, Any]
    version: int = 1


def stored(type_name: str, data: dict[str, Any], *, version: int = 1) -> Stored:
    """A given event as the store holds it (read through the registry's upcasters)."""
    return Stored(type_name, data, version)


@overload
def scenario(
    model: Decider[C, S, E], *, events: EventRegistry | None = None
) -> Scenario[DeciderAggregate[C, S, E]]: ...


@overload
def scenario(model: type[A], *, events: EventRegistry | None = None) -> Scenario[A]: ...


def scenario(model: Any, *, events: EventRegistry | None = None) -> Scenario[Any]:
    """Start a specification for a class-style aggregate or a decider."""
    if isinstance(model, Decider):
        decider = model
        return Scenario(lambda: DeciderAggregate(decider), decider.name, events, is_decider=True)
    if isinstance(model, type) and issubclass(model, Aggregate):
        return Scenario(model, model.__name__, events, is_decider=False)
    raise TypeError(f"scenario() takes an Aggregate subclass or a Decider, not {model!r}")


class Scenario(Generic[A]):
    def __init__(
        self,
        factory: Callable[[], A],
        name: str,
        events: EventRegistry | None,
        *,
        is_decider: bool,
    ) -> None:
        self._factory = factory
        self._name = name
        self._events = events
        self._is_decider = is_decider

    def given(self, *events: object) -> Given[A]:
        """The events already in the aggregate's stream, oldest first."""
        return Given(self, events)


class Given(Generic[A]):
    def __init__(self, scenario: Scenario[A], events: Sequence[object]) -> None:
        self._scenario = scenario
        self._events = events

    def when(self, action: Callable[[A], object] | object) -> When[A]:
        """The command: a function of the aggregate, or a command for a decider."""
        if not self._scenario._is_decider and not callable(action):
            raise TypeError(
                f"{self._scenario._name} is a class aggregate: when() takes a function,"
                " such as lambda order: order.ship('DHL')"
            )
        return When(self._scenario, self._events, action)


class When(Generic[A]):
    def __init__(self, scenario: Scenario[A], given: Sequence[object], action: object) -> None:
        self._scenario = scenario
        self._given = given
        self._action = action

    def then(self, *expected: object) -> A:
        """The command records exactly `expected`, in order. Returns the aggregate."""
        aggregate, produced, error = self._run()
        if error is not None:
            raise self._failure(
                f"expected {_count(expected)}:\n{_listing(expected)}\n"
                f"but the command raised {error!r}"
            ) from error
        if list(produced) != list(expected):
            raise self._failure(_difference(expected, produced))
        return aggregate

    def then_nothing(self) -> A:
        """The command succeeds and records no event. Returns the aggregate."""
        aggregate, produced, error = self._run()
        if error is not None:
            raise self._failure(f"expected no events, but the command raised {error!r}") from error
        if produced:
            raise self._failure(
                f"expected no events, but got {_count(produced)}:\n{_listing(produced)}"
            )
        return aggregate

    def then_error(self, error_type: type[X], match: str | None = None) -> X:
        """The command raises `error_type` (its message matching `match`) and records nothing."""
        aggregate, produced, error = self._run()
        expectation = error_type.__name__ + (f" matching {match!r}" if match else "")
        if error is None:
            got = f"{_count(produced)}:\n{_listing(produced)}" if produced else "no events"
            raise self._failure(f"expected {expectation}, but the command succeeded with {got}")
        if not isinstance(error, error_type):
            raise self._failure(f"expected {expectation}, but it raised {error!r}") from error
        if match is not None and not re.search(match, str(error)):
            raise self._failure(f"expected {expectation}, but the message was {str(error)!r}")
        if aggregate.pending_events:
            recorded = aggregate.pending_events
            raise self._failure(
                f"raised {error_type.__name__} as expected, but recorded"
                f" {_count(recorded)} before it:\n{_listing(recorded)}"
            )
        return error

    # -- running ---------------------------------------------------------------------------

    def _run(self) -> tuple[A, tuple[object, ...], BaseException | None]:
        aggregate = self._scenario._factory()
        book = Bookkeeping.of(aggregate)
        book.bind(f"{self._scenario._name}-scenario")
        for version, event in enumerate(self._given, start=1):
            aggregate.apply(self._as_read(event))
            book.version = version
        try:
            outcome = self._act(aggregate)
        except Exception as exc:
            return aggregate, aggregate.pending_events, exc
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()  # never run: say so instead of passing without it
            raise TypeError(
                "when() got an async action; scenarios run command methods synchronously,"
                " so test an async step through a CommandBus instead"
            )
        produced = aggregate.pending_events
        for event in produced:
            self._check_round_trip(event)
        return aggregate, produced, None

    def _act(self, aggregate: A) -> object:
        action = self._action
        if isinstance(aggregate, DeciderAggregate) and not _is_function(action):
            aggregate.decide(action)
            return None
        return action(aggregate) if callable(action) else None

    def _as_read(self, event: object) -> object:
        registry = self._scenario._events
        if isinstance(event, Stored):
            if registry is None:
                raise TypeError("stored(...) events need scenario(..., events=registry)")
            return registry.from_data(event.type, event.version, event.data)
        if registry is None:
            return event
        return registry.from_data(*registry.to_data(event))

    def _check_round_trip(self, event: object) -> None:
        """The event as a repository would read it back: through JSON, as the store keeps it."""
        registry = self._scenario._events
        if registry is None:
            return
        name, version, data = registry.to_data(event)
        try:
            stored = decode_object(encode_object(f"{name} data", data))
        except ValidationError as exc:
            raise self._failure(f"{event!r} cannot be stored: {exc}") from exc
        again = registry.from_data(name, version, stored)
        if again != event:
            raise self._failure(
                f"{event!r} does not survive serialisation; it is read back as {again!r}"
            )

    def _failure(self, message: str) -> AssertionError:
        given = _count(self._given) if self._given else "no events"
        return AssertionError(
            f"{self._scenario._name} scenario (given {given}, when {_describe(self._action)}):"
            f"\n{message}"
        )


def _is_function(action: object) -> bool:
    # Commands are data; a decider scenario may still pass a function of the aggregate.
    return inspect.isfunction(action) or inspect.ismethod(action) or isinstance(action, partial)


def _describe(action: object) -> str:
    if _is_function(action):
        name = getattr(action, "__name__", "")
        return "a function" if name == "<lambda>" else f"{name}()"
    return repr(action)


def _count(events: Sequence[object]) -> str:
    return f"{len(events)} event" + ("" if len(events) == 1 else "s")


def _listing(events: Sequence[object]) -> str:
    if not events:
        return "  (none)"
    return "\n".join(f"  {index}. {event!r}" for index, event in enumerate(events, start=1))


def _difference(expected: Sequence[object], produced: Sequence[object]) -> str:
    lines = [f"expected {_count(expected)}, got {_count(produced)}:"]
    for index in range(max(len(expected), len(produced))):
        want = repr(expected[index]) if index < len(expected) else "(nothing)"
        got = repr(produced[index]) if index < len(produced) else "(nothing)"
        if want == got and index < len(expected) and expected[index] == produced[index]:
            lines.append(f"  {index + 1}. {got}")
        else:
            lines.append(f"  {index + 1}. expected {want}")
            lines.append(f"     got      {got}")
    return "\n".join(lines)
