"""The command bus: validation, routing, retries on conflict, and de-duplication by command id.

    bus = CommandBus(store)
    bus.register(ShipOrder, aggregate_handler(orders, stream=lambda c: f"order-{c.order_id}",
                                              act=lambda order, c: order.ship(c.carrier)))
    result = await bus.dispatch(ShipOrder(order_id="42", carrier="DHL"),
                                CommandMetadata(command_id=idempotency_key, actor="ann"))

A handler is a plain async function `(command, context) -> None` that loads what it
needs, decides, and saves through a repository with the `context` it was given. The
bus runs it again on a `ConcurrencyError` (fresh state, bounded jittered backoff).
Commands of one bus on one stream take turns (`CommandContext.exclusive`, which
`aggregate_handler` uses), so within a process they queue rather than conflict.

De-duplication needs no table of its own: a command's events get ids derived from its
id, so the store's atomic append recognises a command that already ran — even when the
two runs race — and the bus returns the first run's result. Each event also carries a
hash of the command payload, which tells a retry from a different command reusing the id.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any, Generic, Protocol, TypeVar, overload
from uuid import UUID

import msgspec

from eventbook._errors import (
    CommandIdReused,
    ConcurrencyError,
    UnknownCommandError,
    ValidationError,
)
from eventbook._store.encoding import check_name
from eventbook._store.port import EventStore
from eventbook._store.types import Position
from eventbook._write.aggregate import Aggregate
from eventbook._write.context import (
    COMMAND_HASH,
    COMMAND_TYPE,
    CommandContext,
    CommandMetadata,
    command_hash,
)
from eventbook._write.decider import DeciderAggregate
from eventbook._write.repository import Repository
from eventbook._write.stream_turns import StreamTurns
from eventbook._write.validation import check_command, plain_data, to_command

log = logging.getLogger("eventbook.commands")

C = TypeVar("C")
A = TypeVar("A", bound=Aggregate[Any])
S = TypeVar("S")
E = TypeVar("E")

CommandHandler = Callable[[C, CommandContext], Awaitable[object]]
"""`async def handle(command, context) -> None`; its return value is ignored."""


class CommandObserver(Protocol):
    """Wraps each dispatch (metrics, tracing: see `eventbook.observability`).

    `begin` is asked first. When it returns metadata (the same, or with a trace context
    of its own in `extra`), the bus runs the command with it in its own call, with no
    coroutine or object of the observer's around it (the cheap path), and then calls
    `end` once: with the `perf_counter()` it read after `begin`, the `ConcurrencyError`s
    it ran the handler again after, and its result or its error. When `begin` returns
    None, `observe` wraps the run instead, for an observer that must hold a context open
    across it (a span): `run(metadata)` handles the command; the observer may pass
    metadata of its own and must return what `run` returns.
    """

    def begin(self, command_type: str, metadata: CommandMetadata) -> CommandMetadata | None: ...

    def end(
        self,
        command_type: str,
        started: float,
        conflicts: int,
        result: CommandResult | None,
        error: BaseException | None,
    ) -> None: ...

    async def observe(
        self,
        command_type: str,
        metadata: CommandMetadata,
        run: Callable[[CommandMetadata], Awaitable[CommandResult]],
    ) -> CommandResult: ...


class CommandResult(msgspec.Struct, frozen=True):
    """What a command stored. A retried command gets the first run's result back."""

    command_id: str
    stream: str | None = None
    version: int | None = None
    """The stream version of the command's last event."""
    position: Position | None = None
    """The global position of the command's last event."""
    event_ids: tuple[UUID, ...] = ()
    duplicate: bool = False
    """True when the command had run before and this is that run's result."""

    @property
    def changed(self) -> bool:
        return bool(self.event_ids)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a command is retried after a `ConcurrencyError`.

    Delays grow exponentially from `first_delay` up to `max_delay`, each drawn at random
    below its bound ("full jitter") so that writers that collided spread out.
    """

    attempts: int = 8
    first_delay: float = 0.002
    max_delay: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay < 0 or self.max_delay < self.first_delay:
            raise ValidationError(f"invalid retry policy {self!r}")

    def delay(self, failed_attempts: int, rng: random.Random) -> float:
        bound = min(self.max_delay, self.first_delay * 2 ** (failed_attempts - 1))
        return rng.uniform(0, bound)


@dataclass(frozen=True)
class _Route(Generic[C]):
    name: str
    cls: type[C]
    handler: CommandHandler[C]


class CommandBus:
    """Routes each command type to its handler. Build one in the composition root."""

    def __init__(
        self,
        store: EventStore,
        *,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._by_class: dict[type[Any], _Route[Any]] = {}
        self._by_name: dict[str, _Route[Any]] = {}
        self.observer: CommandObserver | None = None
        """Set by `eventbook.observability` to time and trace every dispatch."""
        self.turns = StreamTurns()
        """The streams this bus's commands hold now (see `CommandContext.exclusive`)."""

    def register(
        self, command: type[C], handler: CommandHandler[C], *, name: str | None = None
    ) -> None:
        """Send commands of type `command` to `handler`. `name` defaults to the class name."""
        command_name = command.__name__ if name is None else name
        check_name("command name", command_name)
        if not callable(handler):
            raise TypeError(f"the handler for {command_name} is not callable")
        if command in self._by_class or command_name in self._by_name:
            raise ValidationError(f"a handler for {command_name} is registered already")
        route = _Route(command_name, command, handler)
        self._by_class[command] = route
        self._by_name[command_name] = route

    @property
    def command_types(self) -> Mapping[str, type[Any]]:
        """The registered command classes by name (what `dispatch_payload` accepts)."""
        return {name: route.cls for name, route in self._by_name.items()}

    async def dispatch(
        self, command: object, metadata: CommandMetadata | None = None
    ) -> CommandResult:
        """Validate `command`, run its handler, and return what it stored.

        Raises `CommandValidationError` for a payload that does not fit its type, the
        handler's own (domain) errors, `CommandIdReused` for an id used by another
        command, and `ConcurrencyError` when the retries are exhausted.
        """
        route = self._by_class.get(type(command))
        if route is None:
            raise UnknownCommandError(f"no handler is registered for {type(command).__qualname__}")
        checked, payload = check_command(route.name, command)
        return await self._observed(route, checked, payload, metadata or CommandMetadata())

    async def dispatch_payload(
        self, name: str, payload: Mapping[str, Any], metadata: CommandMetadata | None = None
    ) -> CommandResult:
        """Like `dispatch`, for a command given by name and plain data (from JSON, say)."""
        route = self._by_name.get(name)
        if route is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownCommandError(f"unknown command {name!r}; known commands: {known}")
        command = to_command(route.name, route.cls, payload)
        return await self._observed(
            route, command, plain_data(command), metadata or CommandMetadata()
        )

    def check_payload(self, name: str, payload: Mapping[str, Any]) -> None:
        """Check plain data against a command's type without running it: raise
        `CommandValidationError` naming every bad field (or `UnknownCommandError`).
        For callers with checks of their own, who report all problems at once."""
        route = self._by_name.get(name)
        if route is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownCommandError(f"unknown command {name!r}; known commands: {known}")
        to_command(route.name, route.cls, payload)

    async def _observed(
        self, route: _Route[Any], command: object, payload: Any, metadata: CommandMetadata
    ) -> CommandResult:
        observer = self.observer
        if observer is None:
            return await self._run(route, command, payload, metadata)
        # Watched from here: a coroutine layer of the observer's would cost more than
        # what it measures (frames and coroutines, not bytecodes, are most of its cost).
        watched = observer.begin(route.name, metadata)
        if watched is None:
            # `partial`: the observer's `run(metadata)` calls `_run` with no frame between.
            return await observer.observe(
                route.name, metadata, partial(self._run, route, command, payload)
            )
        return await self._run(route, command, payload, watched, observer, perf_counter())

    async def _run(
        self,
        route: _Route[Any],
        command: object,
        payload: Any,
        metadata: CommandMetadata,
        observer: CommandObserver | None = None,
        started: float = 0.0,
    ) -> CommandResult:
        """Run the command, again after each conflict; with an `observer` (its cheap path,
        begun at `started`), end it here: no frame of its own around the run."""
        digest = command_hash(route.name, payload)
        attempt = 1  # so `attempt - 1` conflicts were retried
        try:
            while True:
                context = CommandContext(
                    route.name, digest, metadata, attempt=attempt, turns=self.turns
                )
                try:
                    await route.handler(command, context)
                except ConcurrencyError:
                    if attempt >= self.retry.attempts:
                        if (earlier := await self._earlier_result(context)) is not None:
                            result = earlier
                            break
                        raise
                    await asyncio.sleep(self.retry.delay(attempt, self._rng))
                    attempt += 1
                    continue
                except Exception as error:
                    if context.saved is not None and not context.saved.replayed:
                        raise  # this run stored its events, then failed: report that as is
                    # The command may have run meanwhile (a racing retry): then its first
                    # result stands, whatever this run thought of the newer state.
                    try:
                        earlier = await self._earlier_result(context)
                    except CommandIdReused:
                        raise
                    except Exception:
                        log.warning(
                            "could not look for an earlier run of %s", route.name, exc_info=True
                        )
                        raise error from None
                    if earlier is not None:
                        result = earlier
                        break
                    raise
                saved = context.saved
                if saved is None:
                    # Nothing to store now; but a retry of a command that stored events
                    # must still return what it stored.
                    earlier = await self._earlier_result(context)
                    result = earlier or CommandResult(metadata.command_id)
                elif saved.replayed and (
                    (earlier := await self._earlier_result(context)) is not None
                ):
                    result = earlier
                else:
                    result = CommandResult(
                        metadata.command_id,
                        saved.stream,
                        saved.version,
                        saved.position,
                        saved.event_ids,
                        duplicate=saved.replayed,
                    )
                break
        except BaseException as error:
            if observer is not None:
                observer.end(route.name, started, attempt - 1, None, error)
            raise
        if observer is not None:
            observer.end(route.name, started, attempt - 1, result, None)
        return result

    async def _earlier_result(self, context: CommandContext) -> CommandResult | None:
        """The result of an earlier run of this command id, read back from its events."""
        first = await self.store.read_event(context.event_id(0))
        if first is None:
            return None
        if first.metadata.get(COMMAND_HASH) != context.command_hash:
            raise CommandIdReused(context.command_id, first.metadata.get(COMMAND_TYPE, "?"))
        ids, last = [first.id], first
        while (following := await self.store.read_event(context.event_id(len(ids)))) is not None:
            ids.append(following.id)
            last = following
        return CommandResult(
            context.command_id, last.stream, last.version, last.position, tuple(ids), duplicate=True
        )


@overload
def aggregate_handler(
    repository: Repository[DeciderAggregate[C, S, E]],
    *,
    stream: Callable[[C], str],
    act: Callable[[DeciderAggregate[C, S, E], C], object] | None = None,
) -> CommandHandler[C]: ...


@overload
def aggregate_handler(
    repository: Repository[A],
    *,
    stream: Callable[[C], str],
    act: Callable[[A, C], object],
) -> CommandHandler[C]: ...


def aggregate_handler(
    repository: Repository[Any],
    *,
    stream: Callable[[Any], str],
    act: Callable[[Any, Any], object] | None = None,
) -> CommandHandler[Any]:
    """The usual handler: load the command's aggregate, act on it, save it.

    `stream(command)` names the aggregate's stream. `act(aggregate, command)` calls its
    command method (it may be async); for a decider it may be left out, and
    `decide(command)` is run.

    With a repository's state cache, the handler acts on the cached state without asking
    the store first; the save's expected version catches a stale state (the bus retries on
    fresh state), and a refusal or a no-op decided on a cached state is decided again on
    a verified load before it counts.
    """
    if act is None and not repository.is_decider:
        raise TypeError(
            f"{repository.name} is a class aggregate: pass act=lambda aggregate, command: …"
        )
    chosen = act or _decide

    async def run(aggregate: Any, command: Any) -> None:
        outcome = chosen(aggregate, command)
        if outcome is not None and inspect.isawaitable(outcome):  # an async act
            await outcome

    async def handle(command: Any, context: CommandContext) -> None:
        name = stream(command)
        async with context.exclusive(name):  # this bus's commands on `name` take turns
            await load_act_save(name, command, context)

    async def load_act_save(name: str, command: Any, context: CommandContext) -> None:
        aggregate = await repository.load(name, verified=repository.cache is None)
        if repository.is_unverified(aggregate):
            try:
                await run(aggregate, command)
            except Exception:
                aggregate = None  # decided on a state that may be stale: decide again below
            else:
                if not aggregate.pending_events and not await repository.is_current(aggregate):
                    aggregate = None
            if aggregate is None:
                aggregate = await repository.load(name)
                await run(aggregate, command)
        else:
            await run(aggregate, command)
        await repository.save(aggregate, context)

    return handle


def _decide(aggregate: Any, command: Any) -> object:
    return aggregate.decide(command)
