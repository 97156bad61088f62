"""Which errors say a sink cannot be reached (wait for it) and which are the handler's own."""

from __future__ import annotations

import asyncpg
import pytest
from redis import exceptions as redis_errors

from eventbook import UnavailableError
from eventbook.projections._outages import outage_of


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    try:
        raise error from cause
    except BaseException as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "source"),
    [
        (UnavailableError("could not read: PostgreSQL did not answer"), "PostgreSQL"),
        (redis_errors.ConnectionError("Error 111 connecting"), "Redis"),
        (redis_errors.TimeoutError("Timeout reading from socket"), "Redis"),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "PostgreSQL"),
        (asyncpg.exceptions.InternalClientError("cannot switch to state 12"), "PostgreSQL"),
        (ConnectionRefusedError(111, "Connect call failed"), "the sink"),
        (TimeoutError(), "the sink"),
        (raised_from(RuntimeError("feed down"), redis_errors.ConnectionError()), "Redis"),
    ],
)
def test_outages_name_what_cannot_be_reached(error: BaseException, source: str) -> None:
    assert outage_of(error) == source


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad data"),
        KeyError("total"),
        redis_errors.ResponseError("WRONGTYPE"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedTableError("no such table"),
    ],
)
def test_errors_of_the_handlers_own_making_are_no_outage(error: BaseException) -> None:
    assert outage_of(error) is None
