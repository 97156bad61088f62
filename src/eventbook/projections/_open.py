"""Open a projection database from a URL, as `eventbook.connect` opens an event store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from eventbook._errors import ValidationError
from eventbook.projections._ports import ProjectionDatabase

SCHEMES = ("sqlite", "postgresql", "postgres")
Parse = Callable[[str], Any]
_SQLITE_OPTIONS: dict[str, Parse] = {"busy_timeout": float}
_POSTGRES_OPTIONS: dict[str, Parse] = {"schema": str, "pool_size": int}


async def open(url: str, **options: Any) -> ProjectionDatabase:
    """Open (and set up) the projection database at `url`.

    - `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (a file: runners and
      readers each open their own connection, so an in-memory database cannot be one);
    - `postgresql://user:password@host:port/database?schema=read_models` (the schema
      defaults to `public`; other query parameters go to the driver).

    Options: `busy_timeout` (SQLite); `schema` and `pool_size` (PostgreSQL), as keyword
    arguments or query parameters (keywords win).
    """
    if not isinstance(url, str):
        raise ValidationError(
            f"the projection database URL must be a string, not {type(url).__name__}"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"not a projection database URL: {url!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        from eventbook.projections.sqlite import SQLiteDatabase

        path = _sqlite_path(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        chosen = _options("SQLite", _SQLITE_OPTIONS, query, options)
        return await SQLiteDatabase.open(path, **chosen)
    if scheme in ("postgresql", "postgres"):
        from eventbook.projections.postgres import PostgresDatabase

        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        ours = {key: query.pop(key) for key in list(query) if key in _POSTGRES_OPTIONS}
        chosen = _options("PostgreSQL", _POSTGRES_OPTIONS, ours, options)
        dsn = urlunsplit(parts._replace(query=urlencode(query)))
        return await PostgresDatabase.open(dsn, **chosen)
    raise ValidationError(
        f"unknown projection database URL scheme {scheme!r} in {url!r};"
        f" use one of {', '.join(SCHEMES)}"
    )


def _sqlite_path(url: str) -> str:
    rest = url[len("sqlite://") :].partition("?")[0]
    if rest in {":memory:", "/:memory:"}:
        raise ValidationError(
            f"{url!r}: projections need a SQLite file that several connections can open,"
            " not an in-memory database; give a path (a temporary file in tests)"
        )
    if not rest.startswith("/") or len(rest) < 2:
        raise ValidationError(
            f"not a SQLite URL: {url!r}; write sqlite:///relative.db or sqlite:////abs/path.db"
        )
    return rest[1:]  # sqlite:///read.db -> read.db; sqlite:////tmp/read.db -> /tmp/read.db


def _options(
    engine: str, known: dict[str, Parse], query: dict[str, str], given: dict[str, Any]
) -> dict[str, Any]:
    unknown = sorted({*query, *given} - set(known))
    if unknown:
        raise ValidationError(
            f"the {engine} projection database takes {', '.join(sorted(known))},"
            f" not {', '.join(unknown)}"
        )
    chosen: dict[str, Any] = {}
    for key, text in query.items():
        try:
            chosen[key] = known[key](text)
        except ValueError:
            raise ValidationError(f"{key}={text!r} is not a valid {key}") from None
    return {**chosen, **given}
