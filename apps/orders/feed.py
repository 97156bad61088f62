"""The live feed: what just happened, pushed to every open dashboard.

Embedded, the feed follows the event store in this process. In production a projection
writes each event to a Redis stream (idempotently, see `RedisStreamSink`) and every API
process reads that stream, so the feed scales apart from the store and survives restarts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from eventbook import EventStore, Position, RecordedEvent
from eventbook.projections import HandlerMap, Projection, ProjectionDatabase

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from eventbook.projections import StreamBatch

BACKLOG = 50
"""How many recent items a new follower gets before live ones."""

FEED_STREAM = "orders"
LIVE_FEED = "live_feed"
"""The feed projection's name."""
RESUME_PAGE = 500
"""Entries read at a time when a client resumes from its last position."""


def feed_item(event: RecordedEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "position": str(event.position),
        "stream": event.stream,
        "version": event.version,
        "type": event.type,
        "recorded_at": event.recorded_at.isoformat(),
        "actor": event.metadata.get("actor"),
    }


def position_of(item: dict[str, Any]) -> Position:
    return Position.parse(item["position"])


class Feed(Protocol):
    def follow(self, after: Position | None = None) -> AsyncIterator[dict[str, Any]]:
        """The recent items (or, given `after`, every item after that position), then each
        new one as it happens: a client that reconnects misses nothing and repeats nothing."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class InProcessFeed:
    """Follows the event store from where it stood at start and fans out to followers."""

    def __init__(self, store: EventStore, categories: frozenset[str]) -> None:
        self._store = store
        self._categories = categories
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=BACKLOG)
        self._followers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        head = await self._store.head()
        self._task = asyncio.create_task(self._pump(head))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _pump(self, after: Any) -> None:
        async for event in self._store.subscribe(after=after, categories=self._categories):
            item = feed_item(event)
            self._recent.append(item)
            for queue in self._followers:
                if queue.qsize() < 1000:  # a follower that stopped reading loses items, not memory
                    queue.put_nowait(item)

    async def follow(self, after: Position | None = None) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        backlog = list(self._recent)
        self._followers.add(queue)  # before reading the store: nothing falls in between
        try:
            if after is None:
                for item in backlog:
                    yield item
            else:
                # The store, not the backlog: a client away longer than 50 events still
                # resumes. Live items the store read already gave are skipped by position.
                async for event in self._store.read_all(after=after, categories=self._categories):
                    after = event.position
                    yield feed_item(event)
            while True:
                item = await queue.get()
                if after is None or position_of(item) > after:
                    yield item
        finally:
            self._followers.discard(queue)


LONGEST_BLOCK = 15.0
"""Longest wait of one blocking read of the Redis feed, in seconds."""


REDIS_DEFAULT_SOCKET_TIMEOUT = 5.0
"""redis-py's socket timeout when a client is given none (since redis-py 6), in seconds."""


def block_for(client: Redis) -> float:
    """How long one XREAD may block: well within the client's socket timeout.

    redis-py applies its socket timeout to a blocking read as to any other command, so a
    read blocking longer than it ends in `TimeoutError` (and the dashboard's feed with it).
    """
    options = client.connection_pool.connection_kwargs
    timeout = options.get("socket_timeout", REDIS_DEFAULT_SOCKET_TIMEOUT)
    return LONGEST_BLOCK if timeout is None else min(LONGEST_BLOCK, float(timeout) / 2)


class RedisFeed:
    """Reads the feed that the `live_feed` projection writes to a Redis stream."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self._client = client
        self._key = f"{prefix}{FEED_STREAM}"
        self._block_ms = max(1, int(block_for(client) * 1000))

    async def start(self) -> None:
        await self._client.ping()

    async def stop(self) -> None:
        await self._client.aclose()

    async def follow(self, after: Position | None = None) -> AsyncIterator[dict[str, Any]]:
        recent = await (self._recent() if after is None else self._since(after))
        last = recent[-1][0] if recent else "0-0"
        for _, item in recent:
            yield item
        while True:
            answer: Any = await self._client.xread(
                {self._key: last}, block=self._block_ms, count=100
            )
            for _, entries in answer:
                for entry_id, fields in entries:
                    last = entry_id
                    yield msgspec.json.decode(fields[b"item"])

    async def _recent(self) -> list[tuple[Any, dict[str, Any]]]:
        # redis-py's type hints do not describe stream replies; they are lists of pairs.
        newest: Any = await self._client.xrevrange(self._key, count=BACKLOG)
        return [(entry_id, msgspec.json.decode(f[b"item"])) for entry_id, f in reversed(newest)]

    async def _since(self, after: Position) -> list[tuple[Any, dict[str, Any]]]:
        """The entries after `after`, oldest first, read backwards from the newest until one
        at or before it (or the start of the capped stream: older items are gone)."""
        found: list[tuple[Any, dict[str, Any]]] = []
        upper: Any = "+"
        while True:
            page: Any = await self._client.xrevrange(self._key, max=upper, count=RESUME_PAGE)
            for entry_id, fields in page:
                item = msgspec.json.decode(fields[b"item"])
                if position_of(item) <= after:
                    return found[::-1]
                found.append((entry_id, item))
            if len(page) < RESUME_PAGE:
                return found[::-1]
            upper = b"(" + page[-1][0]


def redis_feed_projection(
    client: Redis, database: ProjectionDatabase, prefix: str, event_types: frozenset[str]
) -> Projection[StreamBatch]:
    """Writes every order event to the Redis feed stream, capped, once per event."""
    from eventbook.projections import RedisStreamSink  # only a Redis deployment needs it

    handlers: HandlerMap[StreamBatch] = HandlerMap()

    def publish(event: RecordedEvent, feed: StreamBatch) -> None:
        feed.add(event, FEED_STREAM, {"item": msgspec.json.encode(feed_item(event))})

    handlers.on(*sorted(event_types))(publish)
    sink = RedisStreamSink(client, checkpoints=database, prefix=prefix)
    return Projection(LIVE_FEED, sink, handlers, categories=frozenset({"order"}))
