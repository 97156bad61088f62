"""`retention`, `maintain` and `archive`: keeping the hot store small (docs/cli.md)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import Position
from eventbook.cli import archiving
from eventbook.cli._common import JsonFlag, StoreUrl, console, print_json, run, with_store
from eventbook.cli.copying import ProgressBar

_AGE = re.compile(r"([1-9][0-9]{0,8})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _age(text: str | None) -> timedelta | None:
    if text is None:
        return None
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise typer.BadParameter(
            f"not an age: {text!r} (a whole number and s, m, h, d or w: 90d)",
            param_hint="--max-age",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def retention(
    stream: Annotated[str, typer.Argument(help="The stream to keep short.")],
    store: StoreUrl = "",
    max_count: Annotated[
        int | None, typer.Option(min=1, help="Keep at most this many events.")
    ] = None,
    max_age: Annotated[
        str | None, typer.Option(help="Keep no event older than this: 30d, 12h, 90m.")
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Set a stream's retention (stream metadata); `eventbook maintain` applies it.
    Without --max-count and --max-age the stream keeps everything again.

    Example: eventbook retention audit-web --max-count 10000 --max-age 90d --store sqlite:///app.db
    """
    age = _age(max_age)

    async def work(opened: EventStore) -> None:
        await opened.set_stream_retention(stream, max_count=max_count, max_age=age)

    run(with_store(store, work))
    if json:
        seconds = None if age is None else age.total_seconds()
        print_json({"stream": stream, "max_count": max_count, "max_age_seconds": seconds})
    else:
        console.print(f"retention of {stream}: max count {max_count or '-'}, max age {age or '-'}")


def maintain(store: StoreUrl = "", json: JsonFlag = False) -> None:
    """Apply every stream's retention: remove the events beyond its max count or older
    than its max age (the newest event always stays), each with a `$stream-truncated`
    system event. Safe to run at any time, and again.

    Example: eventbook maintain --store postgresql://localhost/app?schema=orders --json
    """

    async def work(opened: EventStore) -> list[tuple[str, int, str]]:
        retained = await opened.retained_streams()
        done: list[tuple[str, int, str]] = []
        with ProgressBar("maintain", json) as bar:
            bar(0, len(retained))
            for number, state in enumerate(retained, start=1):
                result = await opened.enforce_retention(state)
                if result is not None:
                    after = await opened.stream_state(state.stream)
                    done.append((state.stream, after.first_version, str(result.position)))
                bar(number, len(retained))
        return done

    truncated = run(with_store(store, work))
    if json:
        print_json(
            {
                "truncated": [
                    {"stream": s, "first_version": first, "position": position}
                    for s, first, position in truncated
                ]
            }
        )
        return
    if not truncated:
        console.print("every stream is within its retention")
        return
    table = Table("stream", "now starts at version", box=None)
    for stream, first, _ in truncated:
        table.add_row(stream, str(first))
    console.print(table)


def archive(
    file: Annotated[Path, typer.Argument(help="JSON Lines file to write; .gz compresses.")],
    store: StoreUrl = "",
    stream: Annotated[
        list[str] | None, typer.Option("--stream", help="Archive this stream (repeatable).")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(help="Archive every stream whose newest event lies before this position."),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Move whole streams out of the store: write them to FILE (the format of `eventbook
    export`), then remove them, leaving a `$stream-archived` system event for each.
    `eventbook import FILE --restore` brings them back exactly.

    Example: eventbook archive orders-2023.jsonl.gz --before 1500000 --store sqlite:///orders.db
    """
    if (stream is None) == (before is None):
        raise typer.BadParameter("give --stream NAME (repeatable) or --before POSITION")
    if str(file) == "-":
        raise typer.BadParameter("an archive goes to a file, not stdout", param_hint="FILE")
    try:
        cut = None if before is None else Position.parse(before)
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="--before") from None

    async def work(opened: EventStore) -> archiving.Archived:
        if stream is not None:
            names = stream
        else:
            assert cut is not None  # one of the two was given
            names = await archiving.streams_before(opened, cut)
        with ProgressBar("archive", json) as bar:
            return await archiving.archive_streams(
                opened, file, names, by_name=stream is not None, progress=bar
            )

    done = run(with_store(store, work))
    if json:
        print_json(
            {
                "streams": done.streams,
                "events": done.events,
                "skipped": done.skipped,
                "seconds": round(done.seconds, 3),
            }
        )
        return
    console.print(f"archived {len(done.streams)} streams, {done.events} events, to {file}")
    if done.skipped:
        console.print(f"left in place (deleted or truncated): {', '.join(done.skipped)}")


def register(app: typer.Typer) -> None:
    for command in (retention, maintain, archive):
        app.command()(command)
