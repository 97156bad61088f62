"""The options `SQLiteEventStore.open` takes, checked once with errors a user can act on.

Options arrive as keyword arguments or as URL query parameters, which are strings, so
every number may also be given as its decimal text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from eventbook._errors import ValidationError

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


@dataclass(frozen=True, slots=True)
class SQLiteOptions:
    synchronous: str = "FULL"
    """PRAGMA synchronous. FULL (the default) syncs the WAL on every commit: a committed
    append survives a power cut. NORMAL syncs only at checkpoints: faster, still never
    corrupt, but the last commits before a power cut may be lost."""

    busy_timeout: int = 5000
    """Milliseconds to wait for another connection's write lock before giving up."""

    readers: int = 0
    """Reader threads, each with its own connection; 0 runs reads on the event loop's thread
    (see `worker.LoopReader` on why that is the default)."""

    watch_interval: float = 0.05
    """Seconds between checks for commits by other connections while subscribers wait."""

    @classmethod
    def parse(cls, options: Mapping[str, object]) -> SQLiteOptions:
        unknown = sorted(set(options) - _KNOWN)
        if unknown:
            raise ValidationError(
                f"unknown SQLite option{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))}; the options are {', '.join(sorted(_KNOWN))}"
            )
        defaults = cls()
        return cls(
            synchronous=_synchronous(options.get("synchronous", defaults.synchronous)),
            busy_timeout=_integer("busy_timeout", options.get("busy_timeout"), 0, 3_600_000)
            if "busy_timeout" in options
            else defaults.busy_timeout,
            readers=_integer("readers", options.get("readers"), 0, 64)
            if "readers" in options
            else defaults.readers,
            watch_interval=_seconds("watch_interval", options.get("watch_interval"))
            if "watch_interval" in options
            else defaults.watch_interval,
        )


_KNOWN = frozenset({"synchronous", "busy_timeout", "readers", "watch_interval"})


def _synchronous(value: object) -> str:
    level = value.strip().upper() if isinstance(value, str) else None
    if level not in SYNCHRONOUS_LEVELS:
        raise ValidationError(
            f"SQLite option synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)},"
            f" not {value!r}"
        )
    return level


def _integer(name: str, value: object, low: int, high: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise ValidationError(
            f"SQLite option {name} must be a whole number from {low} to {high}, not {value!r}"
        )
    return number


def _seconds(name: str, value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0.001 <= number <= 60:
        raise ValidationError(
            f"SQLite option {name} must be a number of seconds from 0.001 to 60, not {value!r}"
        )
    return number
