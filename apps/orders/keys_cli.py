"""`python -m apps.orders keys …`: issue, list and revoke API keys from a shell.

Run with the service's own settings (the same ORDERS_* variables), so it reaches the same
event store. Keys are events there: the running service (every process of it) follows
them, so an issued key works and a revoked one is refused without a restart.
Exit codes: 0 done, 1 failed (one line on stderr says why), 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

import eventbook
from apps.orders.api_keys import ApiKey, ApiKeys, Role
from apps.orders.settings import Settings
from eventbook import EventbookError

T = TypeVar("T")
keys = typer.Typer(help="Issue, list and revoke the service's API keys.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


async def _open_store(url: str) -> eventbook.EventStore:
    """The service's store; never a new one (a mistyped URL must not create a database):
    a SQLite file must exist, a PostgreSQL schema is checked, not migrated."""
    options = {"migrate": False} if url.startswith(("postgresql:", "postgres:")) else {}
    return await eventbook.connect(url, **options)


def _require_sqlite_file(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not path.is_file():
            raise EventbookError(f"no event store at {path}: start the service once first")


def _with_keys(work: Callable[[ApiKeys], Awaitable[T]]) -> T:
    async def run(url: str) -> T:
        store = await _open_store(url)
        try:
            api_keys = ApiKeys(store)
            await api_keys.load()
            return await work(api_keys)
        finally:
            await store.close()

    try:
        url = Settings.from_env().events_url
        _require_sqlite_file(url)
        return asyncio.run(run(url))
    except (EventbookError, ValueError, OSError) as error:
        raise _fail(str(error) or type(error).__name__) from None


@keys.command()
def issue(
    role: Annotated[Role, typer.Option(help="reader, writer or operator")],
    name: Annotated[str, typer.Option(help="who or what the key is for")],
    as_json: JsonFlag = False,
) -> None:
    """Issue a key. It is printed this once; only its hash is stored.

    Example: python -m apps.orders keys issue --role reader --name "reporting job"
    """
    if not name.strip() or len(name) > 100 or "\x00" in name:
        raise _fail("--name must be 1 to 100 characters")
    key, issued = _with_keys(lambda k: k.issue(role, name))
    if as_json:
        typer.echo(json.dumps({"key": key, **issued.as_dict()}))
        return
    typer.echo(key)
    typer.echo(f"id {issued.id}, {issued.role.value}, {issued.name!r}: keep the key now,", err=True)
    typer.echo("it is not stored and cannot be shown again.", err=True)


@keys.command("list")
def list_keys(as_json: JsonFlag = False) -> None:
    """Every key ever issued, oldest first (ids, roles, names; never the keys).

    Example: python -m apps.orders keys list --json
    """
    found = _with_keys(_issued)
    if as_json:
        typer.echo(json.dumps([k.as_dict() for k in found]))
        return
    typer.echo(f"{'ID':<13} {'ROLE':<9} {'ISSUED':<20} {'STATE':<8} NAME")
    for k in found:
        state = "revoked" if k.revoked_at is not None else "active"
        issued_at = k.issued_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{k.id:<13} {k.role.value:<9} {issued_at:<20} {state:<8} {k.name}")


@keys.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id from `keys list`")]) -> None:
    """Revoke a key: every process of the service refuses it from now on.

    Example: python -m apps.orders keys revoke 3f9a1c07b2d4
    """
    revoked = _with_keys(lambda k: k.revoke(key_id))
    typer.echo(f"revoked {revoked.id} ({revoked.role.value}, {revoked.name!r})")


async def _issued(api_keys: ApiKeys) -> list[ApiKey]:
    return api_keys.issued()
