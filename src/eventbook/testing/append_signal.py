"""The append-signal part of the event-store contract (see `eventbook.AppendSignal`).

`EventStoreConformance` includes these tests; they use its `store` and `open_again`
fixtures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from eventbook._errors import ValidationError
from eventbook._store.port import EventStore
from eventbook._store.types import NewEvent

Opener = Callable[[], Awaitable[EventStore]]

PROMPT = 2.0
"""Seconds within which a wake-up must arrive; far above any backend's normal latency,
far below the waits' own timeouts."""

LONG = 30.0


def _event() -> NewEvent:
    return NewEvent("Signalled", {"n": 1})


class AppendSignalConformance:
    """How a caught-up reader sleeps until there is more to read."""

    @pytest.mark.asyncio
    async def test_an_append_after_the_ticket_makes_the_wait_return_at_once(
        self, store: EventStore
    ) -> None:
        signal = store.append_signal
        ticket = signal.ticket()
        await store.append("signal-1", [_event()])
        started = time.monotonic()
        assert await signal.wait(ticket, LONG) is True
        assert time.monotonic() - started < PROMPT

    @pytest.mark.asyncio
    async def test_a_wait_without_appends_times_out(self, store: EventStore) -> None:
        await store.append("signal-1", [_event()])  # an append before the ticket is old news
        signal = store.append_signal
        ticket = signal.ticket()
        started = time.monotonic()
        woken = await signal.wait(ticket, 0.2)
        waited = time.monotonic() - started
        assert waited < PROMPT
        if not woken:  # a backend may wake early (a poll); it must not oversleep
            assert waited >= 0.15

    @pytest.mark.asyncio
    async def test_a_waiter_is_woken_by_an_append(self, store: EventStore) -> None:
        signal = store.append_signal
        ticket = signal.ticket()
        waiter = asyncio.create_task(signal.wait(ticket, LONG))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await store.append("signal-1", [_event()])
        assert await asyncio.wait_for(waiter, LONG) is True
        assert time.monotonic() - started < PROMPT

    @pytest.mark.asyncio
    async def test_many_waiters_are_woken_by_one_append(self, store: EventStore) -> None:
        signal = store.append_signal
        ticket = signal.ticket()
        waiters = [asyncio.create_task(signal.wait(ticket, LONG)) for _ in range(20)]
        await asyncio.sleep(0.05)
        await store.append("signal-1", [_event()])
        woken = await asyncio.wait_for(asyncio.gather(*waiters), PROMPT)
        assert woken == [True] * 20

    @pytest.mark.asyncio
    async def test_appends_through_another_connection_wake_a_waiter(
        self, store: EventStore, open_again: Opener
    ) -> None:
        other = await open_again()
        try:
            signal = store.append_signal
            ticket = signal.ticket()
            waiter = asyncio.create_task(signal.wait(ticket, LONG))
            await asyncio.sleep(0.2)  # the waiter is listening before the append
            started = time.monotonic()
            await other.append("signal-1", [_event()])
            assert await asyncio.wait_for(waiter, LONG) is True
            assert time.monotonic() - started < PROMPT
        finally:
            await other.close()

    @pytest.mark.asyncio
    async def test_closing_the_store_wakes_its_waiters(self, store: EventStore) -> None:
        signal = store.append_signal
        waiter = asyncio.create_task(signal.wait(signal.ticket(), LONG))
        await asyncio.sleep(0.05)
        await store.close()
        await asyncio.wait_for(waiter, PROMPT)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "1", None])
    async def test_a_bad_timeout_is_refused(self, store: EventStore, timeout: object) -> None:
        signal = store.append_signal
        with pytest.raises(ValidationError, match="timeout"):
            await signal.wait(signal.ticket(), timeout)  # type: ignore[arg-type]
