"""Telling a sink that cannot be reached from an event that cannot be handled.

An unreachable database, Redis or other sink (connection refused or lost, a timeout,
`UnavailableError`) is no fault of the event being handled: the runner pauses and retries
until the sink is back, without parking anything or moving the checkpoint. Only errors
of the handler's own making (bad data, a bug) follow the projection's park/stop policy.
"""

from __future__ import annotations

import traceback

from eventbook._errors import UnavailableError

WAITING_PREFIX = "waiting for "
"""How the runner's recorded error starts while it waits for a sink; status reads it."""


def outage_of(error: BaseException) -> str | None:
    """What cannot be reached ("Redis", "PostgreSQL", ...) if `error`, or the error it was
    raised from, says so; None for any other error."""
    seen: BaseException | None = error
    for _ in range(3):  # the error, and what it was raised from (a handler may wrap)
        if seen is None:
            return None
        found = _unreachable(seen)
        if found is not None:
            return found
        seen = seen.__cause__
    return None


def _unreachable(error: BaseException) -> str | None:
    library = type(error).__module__.partition(".")[0]
    if library == "redis":
        from redis import exceptions as redis_errors

        lost = isinstance(error, redis_errors.ConnectionError | redis_errors.TimeoutError)
        return "Redis" if lost else None
    if library == "asyncpg":
        from eventbook._backends.postgres.connection import is_lost

        return "PostgreSQL" if is_lost(error) else None
    if isinstance(error, UnavailableError):
        return "PostgreSQL" if "PostgreSQL" in str(error) else "the database"
    if isinstance(error, ConnectionError | TimeoutError):
        return _raised_in(error) or "the sink"
    return None


def _raised_in(error: BaseException) -> str | None:
    """Which client raised a plain `ConnectionRefusedError` or `TimeoutError`."""
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", ""))
        for prefix, name in _CLIENTS.items():
            if module.startswith(prefix):
                return name
    return None


_CLIENTS = {
    "asyncpg": "PostgreSQL",
    "redis": "Redis",
    "eventbook.projections.postgres": "PostgreSQL",
}
