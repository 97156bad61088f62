"""A caught-up filtered subscription does not rescan events it has already passed over."""

from __future__ import annotations

import asyncio

from eventbook import NewEvent, Position
from eventbook._backends.memory import MemoryEventStore
from eventbook._store.types import EventFilter, RecordedEvent


class RecordingStore(MemoryEventStore):
    """Remembers where each read of the global order started."""

    poll_interval = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[Position | None] = []

    async def _read_all_page(
        self, after: Position | None, limit: int, wanted: EventFilter
    ) -> list[RecordedEvent]:
        self.starts.append(after)
        return await super()._read_all_page(after, limit, wanted)


async def test_a_filtered_subscription_moves_past_what_it_scanned() -> None:
    store = RecordingStore()
    await store.append("order-1", [NewEvent("Wanted", {"n": 1})])
    for n in range(30):
        await store.append(f"cart-{n}", [NewEvent("Other", {"n": n})])
    noise_end = await store.head()
    seen: list[RecordedEvent] = []

    async def follow() -> None:
        async for event in store.subscribe(types=["Wanted"]):
            seen.append(event)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.1)  # several polls while caught up
    await store.append("order-2", [NewEvent("Wanted", {"n": 2})])
    await asyncio.sleep(0.05)
    task.cancel()
    assert [e.data["n"] for e in seen] == [1, 2]
    later = store.starts[2:]
    assert later, "the subscription should have looked again while caught up"
    assert all(
        start is not None and noise_end is not None and start >= noise_end for start in later
    )
