"""Read latency of the Orders order page (what GET /api/orders/{id} runs) from its SQL
build and from its Redis build, in the same run, each beside its raw driver.

The order page is the `order_detail` projection of apps/orders: version 1 keeps an
order's fields as rows in PostgreSQL, version 2 as a Redis hash. Both are built from the
same events; the run then reads random orders one at a time through the app's
`Queries.order` (an `ActiveView` resolving the active build, then the fields, then the
page), first with the SQL build active, then after `switch_to` the Redis one. Figures
are per-read medians, in seconds:

- `*_raw_read_s`: the raw driver fetching the same fields (asyncpg `SELECT`, redis-py
  `HGETALL`), no page built;
- `*_view_read_s`: `Queries.order` with the view looking the active build up on every
  read (the default: a switch in another process is seen by the next read);
- `*_cached_read_s`: the same with `max_age=1`, the lookup made once a second.

PostgreSQL runs on a throwaway durable server unless EVENTBOOK_BENCH_POSTGRES_URL is
set, Redis on a throwaway server unless EVENTBOOK_BENCH_REDIS_URL is.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from apps.orders.domain.events import (
    Address,
    ItemAdded,
    LineItem,
    OrderPlaced,
    PaymentProcessed,
    order_events,
)
from apps.orders.queries import Queries
from apps.orders.read_models.order_detail import (
    NAME,
    order_detail_builds,
    order_detail_view,
)
from apps.orders.read_models.search import order_search

from benchmarks.common import Figures, Target, arguments, repeat, report, summarise
from benchmarks.store_postgres import server_url
from eventbook import connect
from eventbook.projections import ActiveView, PostgresDatabase, SearchSink, catch_up, switch_to

TARGETS = [
    # Moving the page to Redis must not make it slower to read, with either lookup policy.
    Target("Redis build vs SQL build, view", "redis_view_read_s", "sql_view_read_s", at_most=1.25),
    Target(
        "Redis build vs SQL build, cached view",
        "redis_cached_read_s",
        "sql_cached_read_s",
        at_most=1.25,
    ),
    # The view and the page cost little over the driver's own round trip ...
    Target("cached view vs raw redis-py", "redis_cached_read_s", "redis_raw_read_s", at_most=1.5),
    # ... except that the projection database reads through its asyncpg pool (an acquire
    # and a connection reset per query), which a single raw connection does not pay.
    Target("cached view vs raw asyncpg", "sql_cached_read_s", "sql_raw_read_s", at_most=6.0),
]
PRODUCTS = ["Kettle", "Mug", "Tea sampler", "Espresso machine", "Tamper", "Scale"]
_redis_server: Any = None


def redis_url() -> str:
    global _redis_server
    given = os.environ.get("EVENTBOOK_BENCH_REDIS_URL")
    if given:
        return given
    if _redis_server is None:
        from tests.servers.redis import RedisServer

        _redis_server = RedisServer()
        _redis_server.start()
        atexit.register(_redis_server.cleanup)
    url: str = _redis_server.url()
    return url


async def seed(store: Any, count: int) -> list[str]:
    """`count` orders of 1-4 lines, half of them with an added item and paid."""
    events = order_events()
    chosen = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    address = Address("Ada Lovelace", "12 St James's Square", "London", "SW1Y 4JH", "GB")
    ids = []
    for n in range(count):
        order_id = uuid.uuid4().hex[:16]
        at = start + timedelta(minutes=n)
        lines = [
            LineItem(product, chosen.randint(1, 3), Decimal(chosen.randint(100, 9000)) / 100)
            for product in chosen.sample(PRODUCTS, chosen.randint(1, 4))
        ]
        history: list[object] = [OrderPlaced(order_id, f"customer {n}", lines, address, "EUR", at)]
        if n % 2:
            extra = LineItem("Gift wrap", 1, Decimal("3.50"))
            history.append(ItemAdded(order_id, extra, at))
            total = sum((line.amount for line in [*lines, extra]), Decimal(0))
            history.append(PaymentProcessed(order_id, total, "card", at))
        stream = f"order-{order_id}"
        await store.append(stream, await events.serialise(stream, history))
        ids.append(order_id)
    return ids


async def forget(redis: Any) -> None:
    """Remove the order page's keys (from an earlier run too), and nothing else."""
    keys = [key async for key in redis.scan_iter(match=f"{NAME}:*", count=1000)]
    for start in range(0, len(keys), 500):
        await redis.unlink(*keys[start : start + 500])


async def median_latency(reads: list[str], read: Callable[[str], Awaitable[Any]]) -> float:
    for order_id in reads[:50]:  # warm the connections and caches
        await read(order_id)
    timings = []
    for order_id in reads:
        began = time.perf_counter()
        await read(order_id)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


async def one_run(scale: float) -> Figures:
    import asyncpg
    from redis.asyncio import Redis

    url, schema = server_url(), f"bench_views_{uuid.uuid4().hex[:8]}"
    store = await connect(f"{url}{'&' if '?' in url else '?'}schema={schema}")
    database = await PostgresDatabase.open(url, schema=f"{schema}_rm")
    redis = Redis.from_url(redis_url())
    raw_pg = await asyncpg.connect(url, server_settings={"search_path": f"{schema}_rm"})
    try:
        await forget(redis)
        ids = await seed(store, max(100, int(2000 * scale)))
        builds = order_detail_builds(database, order_events().upcast, redis=redis)
        for build in builds.values():
            await catch_up(store, build)
        search = order_search(database, order_events().upcast).sink
        assert isinstance(search, SearchSink)
        strict = Queries(database, search, order_detail_view(builds))
        view = order_detail_view(builds)
        cached = Queries(database, search, ActiveView(database, NAME, view.readers, max_age=1.0))
        reads = random.Random(11).choices(ids, k=max(200, int(3000 * scale)))
        assert await strict.order(ids[0]) is not None
        sql = "SELECT field, value FROM order_detail_v1 WHERE order_id = $1"
        figures = {
            "sql_raw_read_s": await median_latency(reads, lambda i: raw_pg.fetch(sql, i)),
            "sql_view_read_s": await median_latency(reads, strict.order),
            "sql_cached_read_s": await median_latency(reads, cached.order),
        }
        before = {order_id: await strict.order(order_id) for order_id in ids[:200]}
        await switch_to(store, builds["redis"])
        assert {order_id: await strict.order(order_id) for order_id in ids[:200]} == before
        redis_key = builds["redis"].sink.key  # type: ignore[attr-defined]
        figures |= {
            "redis_raw_read_s": await median_latency(
                reads, lambda i: redis.hgetall(redis_key(2, i))
            ),
            "redis_view_read_s": await median_latency(reads, strict.order),
            "redis_cached_read_s": await median_latency(reads, cached.order),
        }
        return figures
    finally:
        await raw_pg.execute(f"DROP SCHEMA IF EXISTS {schema}_rm CASCADE")
        await raw_pg.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await raw_pg.close()
        await forget(redis)
        await redis.aclose()
        await database.close()
        await store.close()


def main() -> None:
    args = arguments(__doc__).parse_args()
    runs = asyncio.run(repeat(args.runs, lambda: one_run(args.scale)))
    report(summarise("views", runs, TARGETS), args.json)


if __name__ == "__main__":
    main()
