"""Store commands: streams, read, event, tail, stats, migrate."""

from __future__ import annotations

import contextlib
import enum
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
import typer
from rich.table import Table

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import Position
from eventbook.cli._common import (
    JsonFlag,
    StoreUrl,
    console,
    fail,
    human_bytes,
    open_store,
    print_json,
    run,
    short_time,
    with_store,
)
from eventbook.cli._render import event_json, print_event


class StreamOrder(enum.StrEnum):
    NAME = "name"
    SIZE = "size"
    RECENT = "recent"


def streams(
    store: StoreUrl = "",
    category: Annotated[str | None, typer.Option(help="Only streams of this category.")] = None,
    sort: Annotated[StreamOrder, typer.Option(help="Order: name, size or recent.")] = (
        StreamOrder.NAME
    ),
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many.")] = None,
    json: JsonFlag = False,
) -> None:
    """List streams with their events, size and last activity.

    Example: eventbook streams --store sqlite:///orders.db --category order --sort size
    """

    async def work(opened: EventStore) -> None:
        found = await opened.list_streams(category=category)
        if sort is StreamOrder.SIZE:
            found.sort(key=lambda s: (-s.bytes, s.stream))
        elif sort is StreamOrder.RECENT:
            found.sort(key=lambda s: s.last_position, reverse=True)
        shown = found[:limit] if limit else found
        if json:
            print_json([{**_as_dict(s), "last_position": str(s.last_position)} for s in shown])
            return
        table = Table("stream", "events", "size", "last activity", box=None)
        for info in shown:
            table.add_row(
                info.stream,
                str(info.version),
                human_bytes(info.bytes),
                short_time(info.last_recorded_at),
            )
        console.print(table)
        console.print(f"{len(shown)} of {len(found)} streams")

    run(with_store(store, work))


def read(
    stream: Annotated[str, typer.Argument(help="The stream's name.")],
    store: StoreUrl = "",
    from_version: Annotated[int | None, typer.Option(min=1, help="Start here (inclusive).")] = None,
    backwards: Annotated[bool, typer.Option(help="Newest first.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many events.")] = None,
    json: JsonFlag = False,
) -> None:
    """Print a stream's events (JSON Lines with --json).

    Example: eventbook read order-42 --store sqlite:///orders.db --backwards --limit 5
    """

    async def work(opened: EventStore) -> None:
        events = opened.read_stream(
            stream, from_version=from_version, backwards=backwards, limit=limit, must_exist=True
        )
        async for event in events:
            if json:
                print_json(event_json(event))
            else:
                print_event(event)

    run(with_store(store, work))


def event(
    event_id: Annotated[str, typer.Argument(help="The event's id (a UUID).")],
    store: StoreUrl = "",
    json: JsonFlag = False,
) -> None:
    """Print one event by id.

    Example: eventbook event 0190a1b2-... --store sqlite:///orders.db --json
    """
    try:
        wanted = UUID(event_id)
    except ValueError:
        raise typer.BadParameter(f"not a UUID: {event_id!r}", param_hint="EVENT_ID") from None

    async def work(opened: EventStore) -> None:
        found = await opened.read_event(wanted)
        if found is None:
            fail(f"no event with id {wanted}")
        if json:
            print_json(event_json(found))
        else:
            print_event(found)

    run(with_store(store, work))


def tail(
    store: StoreUrl = "",
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only this event type (repeatable).")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only this category (repeatable).")
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="Start after this position (default: from now on).")
    ] = None,
    from_start: Annotated[bool, typer.Option(help="Start at the first event.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    json: JsonFlag = False,
) -> None:
    """Follow the global log live; Ctrl-C ends it (exit code 0).

    Example: eventbook tail --store sqlite:///orders.db --category order --type OrderPlaced
    """
    if after is not None and from_start:
        raise typer.BadParameter("give --after or --from-start, not both")
    try:
        start = Position.parse(after) if after is not None else None
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="--after") from None

    async def work(opened: EventStore) -> None:
        begin = start if after is not None or from_start else await opened.head()
        seen = 0
        async for found in opened.subscribe(after=begin, types=type_, categories=category):
            if json:
                print_json(event_json(found))
            else:
                print_event(found, with_stream=True)
            seen += 1
            if limit is not None and seen >= limit:
                return

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a tail ends
        run(with_store(store, work))


def stats(
    store: StoreUrl = "",
    top: Annotated[int, typer.Option(min=0, help="How many of the largest streams.")] = 5,
    json: JsonFlag = False,
) -> None:
    """Totals: events, streams, size on disk, largest streams, events per type.

    Example: eventbook stats --store postgresql://localhost/app --top 10
    """

    async def work(opened: EventStore) -> None:
        totals = await opened.stats()
        largest = sorted(await opened.list_streams(), key=lambda s: (-s.bytes, s.stream))[:top]
        if json:
            print_json(
                {
                    **_as_dict(totals),
                    "largest_streams": [
                        {"stream": s.stream, "events": s.version, "bytes": s.bytes} for s in largest
                    ],
                }
            )
            return
        console.print(f"events:       {totals.events}")
        console.print(f"streams:      {totals.streams}")
        console.print(f"size on disk: {human_bytes(totals.bytes_on_disk)}")
        if largest:
            table = Table("largest stream", "events", "size", box=None)
            for info in largest:
                table.add_row(info.stream, str(info.version), human_bytes(info.bytes))
            console.print(table)
        if totals.events_per_type:
            kinds = Table("event type", "events", box=None)
            ordered = sorted(totals.events_per_type.items(), key=lambda kv: (-kv[1], kv[0]))
            for kind, count in ordered:
                kinds.add_row(kind, str(count))
            console.print(kinds)

    run(with_store(store, work))


def migrate(store: StoreUrl = "", json: JsonFlag = False) -> None:
    """Create the store, or bring its schema up to this eventbook's version.

    Example: eventbook migrate --store postgresql://localhost/app?schema=orders
    """

    async def work() -> None:
        opened = await open_store(store, create=True)  # opening migrates, on every backend
        await opened.close()

    run(work())
    if json:
        print_json({"store": _redacted(store), "migrated": True})
    else:
        console.print("the store is at this eventbook's schema version")


def _as_dict(value: object) -> dict[str, object]:
    built = msgspec.to_builtins(value)
    assert isinstance(built, dict)
    return built


def _redacted(url: str) -> str:
    """The URL without its password, for output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def register(app: typer.Typer) -> None:
    for command in (streams, read, event, tail, stats, migrate):
        app.command()(command)
