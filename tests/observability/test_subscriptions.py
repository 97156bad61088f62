"""Live subscriptions are counted while open: store.subscribe iterators of an observed
store, and the application's own through `Observability.subscribed`."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

import eventbook
from eventbook import NewEvent, ValidationError
from eventbook.observability import Observability


def connected(obs: Observability, kind: str) -> float:
    found = obs.registry.get_sample_value("eventbook_subscriptions_connected", {"kind": kind})
    return found or 0.0


async def test_a_store_subscription_counts_from_its_first_read_until_it_ends() -> None:
    obs = Observability()
    store = obs.store(await eventbook.connect("memory://"))
    await store.append("s-1", [NewEvent("E", {})])
    seen = asyncio.Event()

    async def follow() -> None:
        async for _ in store.subscribe():
            seen.set()

    task = asyncio.create_task(follow())
    await asyncio.wait_for(seen.wait(), 5)
    assert connected(obs, "store") == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert connected(obs, "store") == 0
    async with contextlib.aclosing(store.subscribe()) as events:
        async for _ in events:
            assert connected(obs, "store") == 1
            break
    assert connected(obs, "store") == 0
    async for _ in store.subscribe():  # abandoned: counted off when the loop closes it
        break
    for _ in range(10):
        await asyncio.sleep(0)
    assert connected(obs, "store") == 0
    await store.close()


def test_the_applications_own_subscriptions_are_counted_by_kind() -> None:
    obs = Observability()
    with obs.subscribed("sse_feed"), obs.subscribed("sse_feed"):
        assert connected(obs, "sse_feed") == 2
    assert connected(obs, "sse_feed") == 0
    with pytest.raises(ValidationError, match="short name"):
        obs.subscribed("client-42.example")
