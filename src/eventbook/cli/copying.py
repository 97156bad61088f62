"""`copy`, `export` and `import`: moving a whole store, resumably, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from eventbook._errors import ValidationError
from eventbook._store.types import Position
from eventbook.cli import transfer
from eventbook.cli._common import JsonFlag, StoreUrl, console, open_store, print_json, run

Categories = Annotated[
    list[str] | None, typer.Option("--category", help="Only this category (repeatable).")
]
After = Annotated[str | None, typer.Option(help="Only events after this source position.")]


def _position(text: str | None) -> Position | None:
    try:
        return None if text is None else Position.parse(text)
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="--after") from None


class ProgressBar:
    """A rich progress bar fed by `transfer`'s progress callback (quiet with --json)."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=quiet,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, done: int, total: int | None) -> None:
        if self.task is None:
            self.task = self.progress.add_task("", total=total)
        self.progress.update(self.task, completed=done, total=total)


def copy(
    source: Annotated[str, typer.Argument(help="The store to copy from.")],
    destination: Annotated[str, typer.Argument(help="The store to copy into (created).")],
    after: After = None,
    category: Categories = None,
    json: JsonFlag = False,
) -> None:
    """Copy every event to another store (any backend), keeping ids, versions, data,
    metadata and recorded_at, in global order. Run it again to resume: it continues after
    the last event the destination holds, nothing twice.

    Example: eventbook copy sqlite:///orders.db postgresql://db/orders?schema=orders
    """
    start = _position(after)

    async def work() -> transfer.Copied:
        src = await open_store(source)
        try:
            dst = await open_store(destination, create=True)
            try:
                with ProgressBar("copy", json) as bar:
                    return await transfer.copy_store(
                        src, dst, after=start, categories=category, progress=bar
                    )
            finally:
                await dst.close()
        finally:
            await src.close()

    done = run(work())
    _report(done, json)


def export(
    file: Annotated[Path, typer.Argument(help="JSON Lines file; .gz compresses; - for stdout.")],
    store: StoreUrl = "",
    after: After = None,
    category: Categories = None,
    json: JsonFlag = False,
) -> None:
    """Write events, in global order, as JSON Lines (gzip when the name ends in .gz).

    Example: eventbook export orders-2024.jsonl.gz --store sqlite:///orders.db
    """
    start = _position(after)

    async def work() -> transfer.Copied:
        src = await open_store(store)
        try:
            with ProgressBar("export", json or str(file) == "-") as bar:
                return await transfer.export_events(
                    src, file, after=start, categories=category, progress=bar
                )
        finally:
            await src.close()

    done = run(work())
    if str(file) != "-":
        _report(done, json)


def import_(
    file: Annotated[Path, typer.Argument(help="A file `eventbook export` wrote; - for stdin.")],
    store: StoreUrl = "",
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help="Bring an archive back into a store holding other events (no resume).",
        ),
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Read exported events into a store (created if needed). Run it again to resume: it
    skips what the store holds already. With --restore, the file's streams (an
    `eventbook archive`) come back into a live store, each exactly as it was.

    Example: eventbook import orders-2024.jsonl.gz --store postgresql://db/orders
    """

    async def work() -> transfer.Copied:
        dst = await open_store(store, create=True)
        try:
            with ProgressBar("import", json) as bar:
                return await transfer.import_file(dst, file, progress=bar, restore=restore)
        finally:
            await dst.close()

    _report(run(work()), json)


def _report(done: transfer.Copied, json: bool) -> None:
    if json:
        print_json(
            {
                "events": done.events,
                "skipped": done.skipped,
                "seconds": round(done.seconds, 3),
                "last_position": None if done.last is None else str(done.last),
            }
        )
        return
    rate = done.events / done.seconds if done.seconds else 0.0
    resumed = f" (resumed after {done.skipped} already there)" if done.skipped else ""
    console.print(f"{done.events} events in {done.seconds:.1f} s, {rate:,.0f}/s{resumed}")


def register(app: typer.Typer) -> None:
    app.command()(copy)
    app.command()(export)
    app.command("import")(import_)
