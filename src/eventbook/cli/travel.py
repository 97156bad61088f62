"""Time travel: an aggregate's state at a version or a moment, folded by the app's code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
import typer

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import category_of
from eventbook._write.decider import DeciderAggregate
from eventbook._write.repository import Repository
from eventbook.cli._common import (
    JsonFlag,
    StoreUrl,
    call_factory,
    console,
    loaded_callable,
    parse_time,
    print_json,
    run,
    with_store,
)


def state(
    stream: Annotated[str, typer.Argument(help="The aggregate's stream.")],
    app: Annotated[
        str,
        typer.Option(
            help="module:object, a callable taking the store and returning a Repository"
            " (or a mapping of stream category to Repository).",
        ),
    ],
    store: StoreUrl = "",
    at_version: Annotated[int | None, typer.Option(min=1, help="State after this version.")] = None,
    at_time: Annotated[
        str | None, typer.Option(help="State as of this ISO 8601 time (local if no zone).")
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Show an aggregate's state at a version or a time, using the app's own types.

    Example: eventbook state order-42 --at-version 3 --app apps.orders.service:order_repository
    """
    if (at_version is None) == (at_time is None):
        raise typer.BadParameter("give exactly one of --at-version and --at-time")
    moment = parse_time(at_time) if at_time is not None else None
    factory = loaded_callable(app)

    async def work(opened: EventStore) -> None:
        repository = _pick(await call_factory(factory, opened), stream, app)
        aggregate = await repository.load(stream, at_version=at_version, as_of=moment)
        shown = {
            "stream": stream,
            "version": aggregate.version,
            "as_of": None if moment is None else moment.isoformat(),
            "state": state_of(aggregate),
        }
        if json:
            print_json(shown)
            return
        when = f"version {at_version}" if moment is None else moment.isoformat()
        console.print(f"[bold]{stream}[/] at {when}: version {aggregate.version}")
        body = msgspec.json.format(msgspec.json.encode(shown["state"]), indent=2).decode()
        console.print(body, markup=False)

    run(with_store(store, work))


def _pick(made: object, stream: str, target: str) -> Repository[Any]:
    if isinstance(made, Repository):
        return made
    if isinstance(made, Mapping):
        chosen = made.get(category_of(stream))
        if isinstance(chosen, Repository):
            return chosen
        raise ValidationError(f"{target} has no Repository for the category of {stream!r}")
    raise ValidationError(f"{target} returned {type(made).__name__}, not a Repository")


def state_of(aggregate: Any) -> Any:
    """The aggregate's state as JSON values: its snapshot form when it has one, a decider's
    state, or else its public attributes."""
    if isinstance(aggregate, DeciderAggregate):
        return msgspec.to_builtins(aggregate.state, enc_hook=str)
    if aggregate.supports_snapshots():
        return aggregate.to_snapshot()
    public = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return msgspec.to_builtins(public, enc_hook=str)


def register(app: typer.Typer) -> None:
    app.command()(state)
