"""Riding out leader elections and reconnects: retry until a deadline, then give up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeout

from eventbook._errors import UnavailableError

T = TypeVar("T")


class Retryable(Exception):
    """A request that may succeed if sent again: no answer, no leader, a replica behind."""


TRANSIENT: tuple[type[BaseException], ...] = (
    Retryable,
    NatsTimeout,
    NoRespondersError,
    OutboundBufferLimitError,
    TimeoutError,
)


async def retrying(what: str, retry_for: float, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()` again after transient failures, for at most `retry_for` seconds."""
    deadline = time.monotonic() + retry_for
    pause = 0.05
    while True:
        try:
            return await attempt()
        except ConnectionClosedError:
            raise UnavailableError(f"{what}: the NATS connection is closed") from None
        except TRANSIENT as failure:
            if time.monotonic() + pause > deadline:
                raise UnavailableError(
                    f"{what}: the NATS cluster did not answer within {retry_for:g}s ({failure})"
                ) from failure
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)
