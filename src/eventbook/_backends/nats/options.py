"""The NATS store's options: keyword arguments, or `?name=value` in the URL."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eventbook._errors import ValidationError

STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""A JetStream stream name that is also one subject token (it prefixes the subjects)."""


@dataclasses.dataclass(frozen=True)
class NatsOptions:
    """How the store connects and behaves. Every field may also be given as a URL query
    parameter of the same name (`?stream=EVENTS&replicas=3&retry_for=30`)."""

    stream: str = "EVENTS"
    """The JetStream stream holding the events; snapshots go to `<stream>_SNAPSHOTS`."""
    replicas: int = 3
    """Replicas of both streams when the store creates them (1 for development)."""
    retry_for: float = 30.0
    """Seconds an operation keeps retrying through a leader election or a reconnect
    before it raises `UnavailableError`."""
    request_timeout: float = 2.0
    """Seconds one request waits for its answer before it is retried."""
    connect_timeout: float = 5.0
    """Seconds to reach a server when opening."""
    max_batch_size: int = 1000
    """The servers' `max_batch_size` (messages in one atomic batch); an append writes two
    messages per event, so it takes at most half this many events."""
    snapshots_kept: int = 16
    """Snapshots kept per stream and schema tag; older ones are dropped by the server."""
    poll_interval: float = 0.5
    """Seconds a caught-up subscription waits for a wake-up before it looks anyway."""
    read_page_size: int = 1000
    """Events fetched per round trip by the iterators."""

    def __post_init__(self) -> None:
        if not isinstance(self.stream, str) or not STREAM_NAME.fullmatch(self.stream):
            raise ValidationError(
                "stream must be 1 to 32 letters, digits, '_' or '-' (it names the JetStream"
                f" stream and prefixes its subjects), not {self.stream!r}"
            )
        for name, minimum in (
            ("replicas", 1),
            ("max_batch_size", 2),
            ("snapshots_kept", 1),
            ("read_page_size", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValidationError(f"{name} must be an int of at least {minimum}, not {value!r}")
        if self.replicas > 5:
            raise ValidationError(
                f"replicas must be at most 5 (JetStream's limit), not {self.replicas}"
            )
        for name in ("retry_for", "request_timeout", "connect_timeout", "poll_interval"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValidationError(f"{name} must be a positive number of seconds, not {value!r}")


_FIELDS = {field.name: field.type for field in dataclasses.fields(NatsOptions)}


def parse_url(url: str, **options: Any) -> tuple[list[str], NatsOptions]:
    """The server URLs and the options of a `nats://h1:4222,h2:4222?stream=EVENTS` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "nats" or not parts.netloc or parts.path not in ("", "/"):
        raise ValidationError(
            f"not a NATS store URL: {url!r}; write nats://host:4222[,host:4222...][?stream=NAME]"
        )
    if "@" in parts.netloc:
        raise ValidationError("credentials in a nats:// URL are not supported")
    servers = []
    for host in parts.netloc.split(","):
        if not host or host.startswith(":"):
            raise ValidationError(f"not a server address in {url!r}: {host!r}")
        servers.append(f"nats://{host}")
    given: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
    given.update(options)
    unknown = sorted(set(given) - set(_FIELDS))
    if unknown:
        raise ValidationError(
            f"unknown NATS store option(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}"
        )
    return servers, NatsOptions(**{name: _convert(name, value) for name, value in given.items()})


def _convert(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    kind = _FIELDS[name]
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise ValidationError(f"{name} must be a number, not {value!r}") from None
    return value
