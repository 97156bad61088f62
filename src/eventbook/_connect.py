"""Open an event store from a URL; each backend's driver is imported only when used."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore

SCHEMES = ("memory", "sqlite", "postgresql", "postgres", "nats")


async def connect(url: str, **options: Any) -> EventStore:
    """Open the event store at `url`.

    - `memory://` keeps events in this process only (for tests);
    - `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite://:memory:`;
    - `postgresql://user:password@host:port/database`;
    - `nats://host:4222,host:4222,host:4222?stream=EVENTS` (NATS JetStream 2.12+).

    Keyword options (and `?name=value` query parameters) go to the backend;
    see each backend's documentation for the ones it takes.
    """
    if not isinstance(url, str):
        raise ValidationError(f"the store URL must be a string, not {type(url).__name__}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationError(f"not a store URL: {url!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme == "memory":
        from eventbook._backends.memory import MemoryEventStore

        if parts.query or options:
            unknown = sorted({*dict(parse_qsl(parts.query, keep_blank_values=True)), *options})
            raise ValidationError(f"the memory store takes no options, not {', '.join(unknown)}")
        return MemoryEventStore()
    if scheme == "sqlite":
        from eventbook._backends.sqlite import SQLiteEventStore

        path, query = _sqlite_path(url)
        return await SQLiteEventStore.open(path, **{**query, **options})
    if scheme in ("postgresql", "postgres"):
        from eventbook._backends.postgres import PostgresEventStore

        return await PostgresEventStore.open(url, **options)
    if scheme == "nats":
        from eventbook._backends.nats import NatsEventStore

        return await NatsEventStore.open(url, **options)
    raise ValidationError(
        f"unknown event store URL scheme {scheme!r} in {url!r}; use one of {', '.join(SCHEMES)}"
    )


def _sqlite_path(url: str) -> tuple[str, dict[str, str]]:
    rest = url[len("sqlite://") :]
    rest, _, query = rest.partition("?")
    if rest in {":memory:", "/:memory:"}:
        path = ":memory:"
    elif rest.startswith("/") and len(rest) > 1:
        path = rest[1:]  # sqlite:///orders.db -> orders.db; sqlite:////tmp/x.db -> /tmp/x.db
    else:
        raise ValidationError(
            f"not a SQLite URL: {url!r}; write sqlite:///relative.db, sqlite:////abs/path.db"
            " or sqlite://:memory:"
        )
    # Blank values are kept, so that `?synchronous=` is refused as a bad value, not ignored.
    return path, dict(parse_qsl(query, keep_blank_values=True))
