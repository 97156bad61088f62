"""The PostgreSQL store's options: keyword arguments, or `?name=value` in the URL."""

from __future__ import annotations

import dataclasses
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from eventbook._backends.postgres.sql import SCHEMA_PATTERN
from eventbook._errors import ValidationError


@dataclasses.dataclass(frozen=True)
class PostgresOptions:
    """How the store connects and behaves. Every field may also be given as a URL query
    parameter of the same name (`?schema=orders&pool_size=20&migrate=false`)."""

    schema: str = "eventbook"
    """The schema holding the store's tables; give each bounded context its own."""
    pool_size: int = 10
    """Most connections the store opens for appends and reads."""
    pool_min_size: int = 1
    """Connections opened at once and kept open."""
    pool_timeout: float = 10.0
    """Seconds an operation waits for a free connection before `UnavailableError`."""
    statement_timeout: float = 60.0
    """Seconds one statement may run on the server before it cancels it (`UnavailableError`)."""
    command_timeout: float | None = None
    """Seconds the client waits for an answer before it gives up (`UnavailableError`); off
    by default: `statement_timeout` bounds the server, TCP a vanished one."""
    connect_timeout: float = 10.0
    """Seconds to establish one connection."""
    migrate: bool = True
    """Apply pending schema migrations when opening; with False, refuse an old schema."""
    notify: bool = True
    """Send a (coalesced) NOTIFY after appends so subscribers elsewhere wake at once."""
    notify_interval: float = 0.005
    """Least seconds between two NOTIFYs of this store: appends in between share one."""
    poll_interval: float = 0.5
    """Seconds a caught-up subscription waits for a wake-up before it looks anyway."""
    read_page_size: int = 1000
    """Events fetched per round trip by the iterators."""
    application_name: str = "eventbook"
    """Shown in pg_stat_activity; the wake-up connection adds `:signals`."""

    def __post_init__(self) -> None:
        if not isinstance(self.schema, str) or not SCHEMA_PATTERN.fullmatch(self.schema):
            raise ValidationError(
                f"schema must be a lower-case identifier of at most 48 characters"
                f" ([a-z_][a-z0-9_]*), not {self.schema!r}"
            )
        for name in ("pool_size", "pool_min_size", "read_page_size"):
            value = getattr(self, name)
            minimum = 0 if name == "pool_min_size" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValidationError(f"{name} must be an int of at least {minimum}, not {value!r}")
        if self.pool_min_size > self.pool_size:
            raise ValidationError(
                f"pool_min_size ({self.pool_min_size}) exceeds pool_size ({self.pool_size})"
            )
        for name in (
            "pool_timeout",
            "statement_timeout",
            "command_timeout",
            "connect_timeout",
            "poll_interval",
        ):
            value = getattr(self, name)
            if value is None and name == "command_timeout":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValidationError(f"{name} must be a positive number of seconds, not {value!r}")
        if self.statement_timeout < 0.001:  # PostgreSQL counts milliseconds; 0 means "none"
            raise ValidationError(
                f"statement_timeout must be at least 0.001 seconds, not {self.statement_timeout!r}"
            )
        if (
            isinstance(self.notify_interval, bool)
            or not isinstance(self.notify_interval, int | float)
            or not 0 <= self.notify_interval <= 1  # False for NaN too
        ):
            raise ValidationError(
                f"notify_interval must be between 0 and 1 second, not {self.notify_interval!r}"
            )
        for name in ("migrate", "notify"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"{name} must be True or False")


_FIELDS = {field.name: field for field in dataclasses.fields(PostgresOptions)}


def parse_url(url: str, overrides: dict[str, Any]) -> tuple[str, PostgresOptions]:
    """Split a store URL into the driver's DSN and the store's options.

    Query parameters named like an option are the store's; the others (`sslmode`, ...)
    stay in the DSN for the driver. Keyword `overrides` win over the URL.
    """
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise ValidationError(
            f"unknown PostgreSQL store option(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}"
        )
    parts = urlsplit(url)
    ours: dict[str, Any] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _FIELDS:
            ours[name] = _from_text(name, value)
        else:
            theirs.append((name, value))
    ours.update(overrides)
    dsn = urlunsplit(parts._replace(query=urlencode(theirs)))
    return dsn, PostgresOptions(**ours)


def _from_text(name: str, text: str) -> object:
    kind = _FIELDS[name].type
    try:
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "float | None":
            return None if text.strip().lower() in {"", "none"} else float(text)
    except ValueError:
        raise ValidationError(f"URL option {name}={text!r} is not a valid {kind}") from None
    return text
