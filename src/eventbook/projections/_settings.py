"""How runners behave (settings), what they report (states), and how errors are kept."""

from __future__ import annotations

import enum
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventbook._errors import ValidationError
from eventbook._store.types import RecordedEvent
from eventbook.projections._projection import Projection

BatchObserver = Callable[[Projection[Any], Sequence[RecordedEvent], float], None]
"""Called after each committed batch with its events and the commit time (`time.time()`)."""


@dataclass(frozen=True)
class RunnerSettings:
    batch_size: int = 1000
    """Most events per transaction (a projection's own `batch_size` wins)."""
    max_wait: float = 0.0
    """Once caught up, how long to wait for a short batch to fill; 0 favours latency."""
    poll_interval: float = 1.0
    """Look for new events this often even without a wake-up from the store."""
    lease_ttl: float = 10.0
    """A lease not renewed for this long may be taken over by another runner."""
    acquire_interval: float | None = None
    """How often a standby runner tries to take the lease; default `lease_ttl / 4`."""
    shutdown_timeout: float = 30.0
    """How long a graceful stop waits for batches in flight before cancelling them."""

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise ValidationError(f"batch_size must be an int, not {self.batch_size!r}")
        if self.batch_size < 1:
            raise ValidationError(f"batch_size must be at least 1, not {self.batch_size}")
        for name, zero_allowed in (
            ("max_wait", True),
            ("poll_interval", False),
            ("lease_ttl", False),
            ("acquire_interval", False),
            ("shutdown_timeout", True),
        ):
            value = getattr(self, name)
            if value is None and name == "acquire_interval":
                continue  # the default: a quarter of lease_ttl
            if not _seconds(value, zero_allowed):
                least = "0 or more" if zero_allowed else "more than 0"
                raise ValidationError(f"{name} must be a number of seconds, {least}, not {value!r}")


def _seconds(value: object, zero_allowed: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return value >= 0 if zero_allowed else value > 0


class RunnerState(enum.Enum):
    STANDBY = "standby"
    CATCHING_UP = "catching_up"
    LIVE = "live"
    WAITING = "waiting"
    """A sink (database, Redis) cannot be reached: retrying with backoff, holding the lease."""
    FAILED = "failed"
    RETIRED = "retired"
    STOPPED = "stopped"


def describe(error: BaseException) -> str:
    """An error as operators see it: the message first, then the end of the traceback."""
    lines = traceback.format_exception(error)
    return (f"{type(error).__name__}: {error}\n" + "".join(lines)[-1500:])[:2000]
