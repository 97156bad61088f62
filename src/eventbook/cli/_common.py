"""What every command shares: the store option, opening a store, output, exit codes.

Exit codes: 0 done, 1 the operation failed (one line on stderr says why), 2 bad usage
(typer/click's own code for unknown options and bad values).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, NoReturn, TypeVar

import msgspec
import typer
from rich.console import Console

from eventbook._connect import _sqlite_path, connect
from eventbook._errors import EventbookError, ValidationError
from eventbook._store.port import EventStore

T = TypeVar("T")

FAILURE = 1
USAGE = 2

StoreUrl = Annotated[
    str,
    typer.Option(
        "--store",
        envvar=["EVENTBOOK_STORE", "EVENTBOOK_STORE_URL"],
        help="Event store URL (or EVENTBOOK_STORE).",
        show_envvar=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

_encode = msgspec.json.Encoder().encode


def fail(message: str, code: int = FAILURE) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; eventbook errors and bad targets end with exit code 1."""
    try:
        return asyncio.run(work)
    except (EventbookError, ImportError, OSError) as error:
        fail(str(error) or type(error).__name__)


def print_json(value: object) -> None:
    sys.stdout.buffer.write(_encode(value) + b"\n")
    sys.stdout.flush()


async def open_store(url: str, *, create: bool = False) -> EventStore:
    """Open the store at `url`. Unless `create`, a database that does not exist (or holds no
    eventbook store) is an error: a mistyped path must not become a new, empty store."""
    if not url:
        raise ValidationError("give --store URL or set EVENTBOOK_STORE")
    scheme = url.split(":", 1)[0].lower()
    if create or scheme == "memory":
        return await connect(url)
    if scheme == "sqlite":
        _require_sqlite_store(url)
        return await connect(url)
    if scheme in ("postgresql", "postgres"):
        # migrate=false: check the schema is there and current, never create it.
        return await connect(url, migrate=False)
    return await connect(url)


def _require_sqlite_store(url: str) -> None:
    path, _ = _sqlite_path(url)
    if path == ":memory:":
        return
    if not os.path.isfile(path):
        raise ValidationError(
            f"no SQLite database at {path!r}; only migrate, copy and import create one"
        )
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'eventbook_events'"
            ).fetchone()
    except sqlite3.Error as exc:
        raise ValidationError(f"{path!r} is not a SQLite database: {exc}") from None
    if found is None:
        raise ValidationError(f"{path!r} holds no eventbook store; `eventbook migrate` makes one")


def load_object(target: str) -> Any:
    """Import `package.module:object`, finding modules in the current directory too."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValidationError(f"expected 'package.module:object', not {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # like `python -m`, find the app's modules here
    found = getattr(importlib.import_module(module_name), attribute, None)
    if found is None:
        raise ValidationError(f"{module_name} has no {attribute!r}")
    return found


def loaded_callable(target: str) -> Callable[..., Any]:
    """`load_object` for a callable; a bad target ends the command with exit code 1."""
    try:
        found = load_object(target)
    except (EventbookError, ImportError) as error:
        fail(f"cannot load {target}: {error}")
    if not callable(found):
        fail(f"{target} is not callable")
    return found  # type: ignore[no-any-return]


async def call_factory(factory: Callable[..., Any], *args: Any) -> Any:
    made = factory(*args)
    if inspect.isawaitable(made):
        made = await made
    return made


async def with_store(url: str, work: Callable[[EventStore], Awaitable[T]]) -> T:
    """Open the existing store at `url`, do `work` with it, close it."""
    store = await open_store(url)
    try:
        return await work(store)
    finally:
        await store.close()


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


def short_time(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; without a zone it is taken as local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.astimezone()
