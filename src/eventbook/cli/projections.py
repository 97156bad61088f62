"""`eventbook projections ...`: status, the daemon, rebuilds with progress, blue/green
builds, dead letters. Every command takes `--app module:build`, the callable that builds
the app's projections from the store (the same one the daemon runs)."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from eventbook._errors import UnknownProjection, ValidationError
from eventbook._store.port import EventStore
from eventbook.cli._common import (
    JsonFlag,
    StoreUrl,
    console,
    fail,
    open_store,
    print_json,
    run,
)
from eventbook.projections import (
    Projection,
    RunnerSettings,
    catch_up,
    discard_parked,
    drop_build,
    list_parked,
    rebuild,
    retry_parked,
    status,
    switch_to,
)
from eventbook.projections._lag import count_between
from eventbook.projections._rows import slowest_position
from eventbook.projections.cli import _close, build_projections, run_daemon

group = typer.Typer(
    help="Projections: status, the daemon, rebuilds, blue/green builds, dead letters.",
    no_args_is_help=True,
)

App = Annotated[
    str,
    typer.Option(
        "--app",
        envvar="EVENTBOOK_PROJECTIONS",
        help="module:function building the projections from the store.",
    ),
]
Name = Annotated[str, typer.Argument(help="The projection's name.")]
Version = Annotated[
    int | None, typer.Option(min=1, help="The build's version (default: the newest built).")
]
Timeout = Annotated[float, typer.Option(min=0.1, help="Give up after this many seconds.")]


async def _with_projections(url: str, target: str, work: Any) -> Any:
    store = await open_store(url)
    projections: list[Projection[Any]] = []
    try:
        projections = await build_projections(target, store)
        return await work(store, projections)
    finally:
        await _close(store, projections)


def _choose(projections: list[Projection[Any]], name: str, version: int | None) -> Projection[Any]:
    named = [p for p in projections if p.name == name]
    if not named:
        known = ", ".join(sorted({p.name for p in projections})) or "none"
        raise UnknownProjection(f"no projection named {name!r} (the app has: {known})")
    if version is None:
        return max(named, key=lambda p: p.version)
    for projection in named:
        if projection.version == version:
            return projection
    built = ", ".join(str(p.version) for p in named)
    raise ValidationError(f"{name!r} has no version {version} in the app (versions: {built})")


NOT_SET_UP = "not_set_up"


def _not_set_up(name: str, version: int) -> dict[str, Any]:
    """A status row for a build no runner has set up (no checkpoint, no tables yet)."""
    return {
        "name": name,
        "version": version,
        "active": False,
        "state": NOT_SET_UP,
        "position": None,
        "lag_events": None,
        "parked": 0,
        "stuck": False,
        "partitions": [],
    }


@group.command("status")
def status_command(app: App, store: StoreUrl = "", json: JsonFlag = False) -> None:
    """Each build's state, position, lag, parked events and whether it is stuck; a build
    the app defines that no runner has set up yet shows as not_set_up. A partitioned
    build shows its slowest position and worst lag, then a row per partition.

    Example: eventbook projections status --app apps.orders.projections:build --store ...
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        found = await status(opened, projections)
        seen = {(s.name, s.version) for s in found}
        # Builds the app defines that no runner has set up yet: listed, not left out.
        missing = [(p.name, p.version) for p in projections if (p.name, p.version) not in seen]
        if json:
            print_json([s.as_dict() for s in found] + [_not_set_up(*key) for key in missing])
            return
        table = Table("name", "v", "state", "position", "behind", "lag", "parked", "stuck")
        for name, version in missing:
            table.add_row(name, str(version), NOT_SET_UP, "-", "-", "-", "-", "")
        for s in found:
            behind = f"{s.lag_events}{'' if s.lag_exact else '+'}"
            table.add_row(
                f"{s.name}{'' if s.active else ' (inactive)'}",
                str(s.version),
                s.state.value,
                s.position or "-",
                behind,
                f"{s.lag_seconds:.1f}s",
                str(s.parked),
                "yes" if s.stuck else "",
            )
            for p in s.partitions:  # a partitioned build: the worst of these is above
                table.add_row(
                    f"  #{p.partition}",
                    "",
                    p.state.value,
                    p.position or "-",
                    f"{p.lag_events}{'' if p.lag_exact else '+'}",
                    f"{p.lag_seconds:.1f}s",
                    "",
                    "",
                )
        console.print(table)
        for s in found:
            if s.last_error:
                first_line = s.last_error.splitlines()[0]  # the traceback is in --json
                console.print(f"[red]{s.name} v{s.version}:[/] {first_line}", soft_wrap=True)

    run(_with_projections(store, app, work))


@group.command("run")
def run_command(
    app: App,
    store: StoreUrl = "",
    batch_size: Annotated[int, typer.Option(min=1)] = 1000,
    lease_ttl: Annotated[float, typer.Option(min=0.1)] = 10.0,
    log_level: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run the projection daemon until SIGTERM or Ctrl-C.

    Example: eventbook projections run --app apps.orders.projections:build --store ...
    """
    settings = RunnerSettings(batch_size=batch_size, lease_ttl=lease_ttl)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store_url = store
    if not store_url:
        fail("give --store URL or set EVENTBOOK_STORE")

    async def daemon() -> None:
        await _check_exists(store_url)  # the daemon must not create a mistyped store
        await run_daemon(app, store_url, settings)

    run(daemon())


async def _check_exists(url: str) -> None:
    opened = await open_store(url)
    await opened.close()


@group.command("rebuild")
def rebuild_command(
    name: Name, app: App, store: StoreUrl = "", version: Version = None, timeout: Timeout = 3600
) -> None:
    """Empty a build and replay every event into it, with a progress bar and ETA.

    Example: eventbook projections rebuild order_summary --app apps.orders.projections:build
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        projection = _choose(projections, name, version)
        total, _ = await count_between(opened, projection, None, None, cap=10**12)
        rebuilding = asyncio.create_task(rebuild(opened, projection, timeout=timeout))
        await _follow(opened, projection, total, rebuilding, f"rebuild {projection.label}")

    run(_with_projections(store, app, work))


@group.command("build")
def build_command(
    name: Name, app: App, version: Version = None, store: StoreUrl = "", timeout: Timeout = 3600
) -> None:
    """Set up a build beside the active one and bring it up to date (blue/green).

    Example: eventbook projections build order_summary --version 2 --app ...:build
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        projection = _choose(projections, name, version)
        database = projection.sink.database
        start = slowest_position(await database.partitions(projection.name, projection.version))
        total, _ = await count_between(opened, projection, start, None, cap=10**12)
        building = asyncio.create_task(catch_up(opened, projection, timeout=timeout))
        await _follow(opened, projection, total, building, f"build {projection.label}")

    run(_with_projections(store, app, work))


@group.command("switch")
def switch_command(
    name: Name, app: App, version: Version = None, store: StoreUrl = "", timeout: Timeout = 3600
) -> None:
    """Point readers at a build once it has caught up; older builds retire.

    Example: eventbook projections switch order_summary --version 2 --app ...:build
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        projection = _choose(projections, name, version)
        await switch_to(opened, projection, timeout=timeout)
        console.print(f"readers now see {projection.label}")

    run(_with_projections(store, app, work))


@group.command("drop")
def drop_command(name: Name, app: App, version: Version = None, store: StoreUrl = "") -> None:
    """Remove a retired build: its tables, checkpoint and dead letters.

    Example: eventbook projections drop order_summary --version 1 --app ...:build
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        projection = _choose(projections, name, version)
        await drop_build(projection)
        console.print(f"dropped {projection.label}")

    run(_with_projections(store, app, work))


@group.command("parked")
def parked_command(
    name: Name, app: App, version: Version = None, store: StoreUrl = "", json: JsonFlag = False
) -> None:
    """List the events a build parked (dead letters), oldest first.

    Example: eventbook projections parked order_summary --app apps.orders.projections:build
    """

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        found = await list_parked(_choose(projections, name, version))
        if json:
            print_json([_parked_dict(p) for p in found])
            return
        table = Table("event id", "status", "tries", "error")
        for p in found:
            row = _parked_dict(p)
            table.add_row(
                str(row["event_id"]), str(row["status"]), str(row["attempts"]), str(row["error"])
            )
        console.print(table)
        console.print(f"{len(found)} parked")

    run(_with_projections(store, app, work))


def _parked_dict(parked: Any) -> dict[str, Any]:
    fields = {
        k: getattr(parked, k)
        for k in ("event_id", "status", "attempts", "error")
        if hasattr(parked, k)
    }
    status_value = fields.get("status")
    return {
        "event_id": str(fields.get("event_id")),
        "status": getattr(status_value, "value", status_value),
        "attempts": fields.get("attempts"),
        "error": fields.get("error"),
    }


EventId = Annotated[str, typer.Argument(help="The parked event's id.")]


@group.command("retry")
def retry_command(
    name: Name, event_id: EventId, app: App, version: Version = None, store: StoreUrl = ""
) -> None:
    """Try a parked event again (a halted build resumes at it).

    Example: eventbook projections retry order_summary 0190a1b2-... --app ...:build
    """
    wanted = _uuid(event_id)

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        await retry_parked(opened, _choose(projections, name, version), wanted)
        console.print(f"retried {wanted}")

    run(_with_projections(store, app, work))


@group.command("discard")
def discard_command(
    name: Name, event_id: EventId, app: App, version: Version = None, store: StoreUrl = ""
) -> None:
    """Give up on a parked event for good.

    Example: eventbook projections discard order_summary 0190a1b2-... --app ...:build
    """
    wanted = _uuid(event_id)

    async def work(opened: EventStore, projections: list[Projection[Any]]) -> None:
        await discard_parked(_choose(projections, name, version), wanted)
        console.print(f"discarded {wanted}")

    run(_with_projections(store, app, work))


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"not a UUID: {text!r}", param_hint="EVENT_ID") from None


async def _follow(
    store: EventStore,
    projection: Projection[Any],
    total: int,
    task: asyncio.Task[None],
    label: str,
) -> None:
    """Show a build's progress from its checkpoint until `task` ends."""
    database = projection.sink.database
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task(label, total=total or None)
        counted_to, done = None, 0
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            # A partitioned build: the events every partition has processed.
            position = slowest_position(
                await database.partitions(projection.name, projection.version)
            )
            if position is None or (counted_to is not None and position < counted_to):
                counted_to, done = None, 0  # the build was reset: count from the start
            elif position != counted_to:
                # Count only what was processed since the last look: cheap on long rebuilds.
                more, _ = await count_between(store, projection, counted_to, position, cap=2**62)
                counted_to, done = position, done + more
            progress.update(bar, completed=min(done, total))
        await task
        progress.update(bar, completed=total)
    console.print(f"{label}: done, {total} events")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="projections")
