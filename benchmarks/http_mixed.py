"""The mixed phase of `benchmarks/http_load.py`: commands, reads, a live feed and a
rebuild of every projection in the middle, all at once, against one running service.

- `WORKERS` writers run orders through their life (place, pay, ship), as in the command
  load, with a writer's key;
- `READERS` readers, with a reader's key, each list the newest orders
  (`GET /api/orders?page_size=10`) and then read the newest of them
  (`GET /api/orders/{id}`), again and again;
- one client holds `GET /api/feed` (Server-Sent Events) open with a reader's key and
  collects the `id:` (position) of each event it receives;
- half-way through, an operator's key asks `POST /api/projections/{name}/rebuild` for every
  projection; the rebuild lasts until each projection reports no lag again (and is no
  longer rebuilding), and the load goes on at least until then.

Every request is timed with the moment it finished, so that the same run gives commands/s
and read p99 before the rebuild (from the start to the rebuild request) and during it
(from the request until every projection has caught up, `LEAST_WINDOW` at least). Also
counted: the events of the phase's commands that reached the feed, and reads whose order
count fell below one seen before (what a rebuild done in place shows to readers; the
service's blue/green rebuild must show none).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from benchmarks.common import Figures

READERS = 4
WORKERS = 8
DURATION = 10.0
"""Seconds of mixed load per run (times `--scale`), the rebuild requested half-way."""
POLL = 0.05
"""How often the rebuild's progress is checked (seconds)."""
LEAST_WINDOW = 0.5
"""The figures "during the rebuild" cover at least this long after the request (seconds),
so that a rebuild quicker than that still has requests to measure."""
NEVER_BUSY = 2.0
"""A rebuild never seen with lag within this long has finished before the first check."""
FEED_GRACE = 10.0
"""Seconds the feed has, after the load, to deliver the phase's last events."""

Timed = list[tuple[float, float]]
"""(when it finished, seconds it took), one per request."""
OrderLife = Callable[[httpx.AsyncClient, Callable[[httpx.Response, float], None]], Awaitable[None]]
"""Runs one order through its life, passing each command's answer and latency."""


@dataclass(frozen=True)
class Keys:
    writer: dict[str, str]
    reader: dict[str, str]
    operator: dict[str, str]


@dataclass
class Seen:
    commands: Timed = field(default_factory=list)
    reads: Timed = field(default_factory=list)
    positions: set[str] = field(default_factory=set)
    """Of the phase's commands' last events (from their 202 answers)."""
    feed: set[str] = field(default_factory=set)
    """Positions the live feed delivered."""
    writing: bool = True
    delivered: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once writing is over and the feed has delivered every command's event."""
    most_orders: int = 0
    fewer_orders: int = 0
    """Reads of the order list whose total was below one an earlier read saw."""


def percentile(values: list[float], percent: int) -> float:
    """The `percent`-th percentile (50: the median)."""
    if percent == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def _within(samples: Timed, start: float, end: float) -> list[float]:
    return [seconds for finished, seconds in samples if start <= finished < end]


async def _feed(client: httpx.AsyncClient, keys: Keys, seen: Seen, opened: asyncio.Event) -> None:
    async with client.stream("GET", "/api/feed", headers=keys.reader) as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"GET /api/feed: {answer.status_code}")
        opened.set()
        async for line in answer.aiter_lines():
            if line.startswith("id:"):
                seen.feed.add(line.removeprefix("id:").strip())
                _check_delivered(seen)


def _check_delivered(seen: Seen) -> None:
    if not seen.writing and seen.positions <= seen.feed:
        seen.delivered.set()


async def _reader(client: httpx.AsyncClient, keys: Keys, seen: Seen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        listed = await client.get("/api/orders", params={"page_size": 10}, headers=keys.reader)
        finished = time.perf_counter()
        seen.reads.append((finished, finished - start))
        if listed.status_code != 200:
            raise RuntimeError(f"GET /api/orders: {listed.text}")
        page = listed.json()
        if page["total"] < seen.most_orders:
            seen.fewer_orders += 1
        seen.most_orders = max(seen.most_orders, page["total"])
        if page["items"]:
            start = time.perf_counter()
            one = await client.get(
                f"/api/orders/{page['items'][0]['order_id']}", headers=keys.reader
            )
            finished = time.perf_counter()
            seen.reads.append((finished, finished - start))
            if one.status_code not in (200, 404):  # 404: a rebuild done in place lost it
                raise RuntimeError(f"GET /api/orders/{{id}}: {one.text}")


async def _projections(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, object]]:
    answer = await client.get("/api/projections", headers=keys.operator)
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def _settled(items: list[dict[str, object]]) -> bool:
    """Every build in use is live with no lag, and none is being rebuilt."""
    return all(
        item["state"] in ("live", "inline") and item["lag_events"] == 0
        for item in items
        if item["state"] != "retired"
    )


async def _rebuild(client: httpx.AsyncClient, keys: Keys) -> float:
    """Ask every projection to rebuild; when all of them have caught up again.

    Those the service cannot rebuild beside themselves (the Redis feed, the order page,
    which moves between stores instead) answer 409 rebuild-not-supported: left as they are.
    """
    names = sorted({str(item["name"]) for item in await _projections(client, keys)})
    for name in names:
        answer = await client.post(f"/api/projections/{name}/rebuild", headers=keys.operator)
        if answer.status_code == 409 and answer.json()["type"].endswith("/rebuild-not-supported"):
            continue
        if not answer.is_success:
            raise RuntimeError(f"POST /api/projections/{name}/rebuild: {answer.text}")
    asked = time.perf_counter()
    busy_seen = False
    while True:
        settled = _settled(await _projections(client, keys))
        now = time.perf_counter()
        if settled and (busy_seen or now - asked > NEVER_BUSY):
            return now
        busy_seen = busy_seen or not settled
        await asyncio.sleep(POLL)


async def mixed(url: str, keys: Keys, order_life: OrderLife, scale: float) -> Figures:
    duration = max(3.0, DURATION * scale)
    seen = Seen()
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=WORKERS + READERS + 2)
    async with (
        httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client,
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as listener,
    ):
        opened = asyncio.Event()
        feed = asyncio.create_task(_feed(listener, keys, seen, opened))
        await asyncio.wait_for(opened.wait(), 30)

        def record(answer: httpx.Response, seconds: float) -> None:
            seen.commands.append((time.perf_counter(), seconds))
            seen.positions.add(answer.json()["position"])

        async def writer() -> None:
            while not stop.is_set():
                await order_life(client, record)

        start = time.perf_counter()
        tasks = [asyncio.create_task(writer()) for _ in range(WORKERS)]
        tasks += [asyncio.create_task(_reader(client, keys, seen, stop)) for _ in range(READERS)]
        await asyncio.sleep(duration / 2)
        asked = time.perf_counter()
        rebuilt = await _rebuild(client, keys)
        window = max(rebuilt, asked + LEAST_WINDOW)
        await asyncio.sleep(
            max(0.0, start + duration - time.perf_counter(), window - time.perf_counter())
        )
        stop.set()
        await asyncio.gather(*tasks)
        end = time.perf_counter()
        seen.writing = False
        _check_delivered(seen)
        with contextlib.suppress(TimeoutError):  # what is missing then is counted as missed
            await asyncio.wait_for(seen.delivered.wait(), FEED_GRACE)
        feed.cancel()
        await asyncio.gather(feed, return_exceptions=True)

    def rate(samples: Timed, since: float, until: float) -> float:
        return len(_within(samples, since, until)) / (until - since)

    def p99(samples: Timed, since: float, until: float) -> float:
        return percentile(_within(samples, since, until), 99)

    return {
        "mixed_commands_per_s": rate(seen.commands, start, end),
        "mixed_read_p99_s": p99(seen.reads, start, end),
        "mixed_reads_per_s": rate(seen.reads, start, end),
        "sse_events": float(len(seen.positions & seen.feed)),
        "mixed_commands": float(len(seen.positions)),
        "before_rebuild_commands_per_s": rate(seen.commands, start, asked),
        "before_rebuild_read_p99_s": p99(seen.reads, start, asked),
        "during_rebuild_commands_per_s": rate(seen.commands, asked, window),
        "during_rebuild_read_p99_s": p99(seen.reads, asked, window),
        "rebuild_s": rebuilt - asked,
        "reads_with_fewer_orders": float(seen.fewer_orders),
        "mixed_reads": float(len(seen.reads)),
    }
