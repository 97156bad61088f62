"""A short tour of the event store on the embedded SQLite backend.

    .venv/bin/python examples/quickstart.py [DATABASE]     # default: .data/quickstart.db

Appends to an order stream, shows optimistic concurrency refusing a stale writer,
reads the stream and the global order back, and follows new events live.
Run it again: the history is kept in the database file and grows.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import eventbook
from eventbook import NO_STREAM, ConcurrencyError, NewEvent


async def main(database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    async with await eventbook.connect(f"sqlite:///{database}") as store:
        stream = f"order-{eventbook.uuid7().hex[-8:]}"
        before_this_run = await store.head()

        placed = await store.append(
            stream,
            [NewEvent("OrderPlaced", {"customer": "Ada", "total": 42.5, "currency": "EUR"})],
            expected=NO_STREAM,
        )
        print(f"appended OrderPlaced to {stream}: v{placed.version} at position {placed.position}")

        await store.append(stream, [NewEvent("PaymentProcessed", {"amount": 42.5})], expected=1)
        try:
            await store.append(stream, [NewEvent("OrderCancelled", {})], expected=1)
        except ConcurrencyError as stale:
            print(f"a stale writer was refused: {stale}")

        print(f"\n{stream}, oldest first:")
        async for event in store.read_stream(stream):
            print(f"  v{event.version} {event.type:<18} {event.data}")

        print("\nthe global order since this run began:")
        async for event in store.read_all(after=before_this_run):
            print(f"  {event.position!s:>6} {event.stream:<14} {event.type}")
        head = await store.head()

        print("\nfollowing the store live:")
        follower = asyncio.create_task(_follow(store, head))
        await store.append(stream, [NewEvent("OrderShipped", {"carrier": "DHL"})], expected=2)
        await asyncio.wait_for(follower, timeout=10)
        print(f"\nthe store at {database} now ends at position {await store.head()}")


async def _follow(store: eventbook.EventStore, after: eventbook.Position | None) -> None:
    async for event in store.subscribe(after=after):
        print(f"  live: {event.stream} v{event.version} {event.type}")
        return


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".data/quickstart.db")
    asyncio.run(main(target))
