"""The Orders projections, built for a store and a read-model database.

The production daemon runs them as its own process::

    python -m eventbook.projections run apps.orders.projections:build --store "$ORDERS_EVENTS_URL"

and `eventbook projections build|switch|drop NAME --app apps.orders.projections:build` manage
their builds (moving the order page to Redis: docs/projections.md, "Moving a view").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from apps.orders.domain.events import order_events
from apps.orders.feed import redis_feed_projection
from apps.orders.personal import open_personal_data
from apps.orders.read_models.analytics import analytics
from apps.orders.read_models.order_detail import NAME as ORDER_DETAIL
from apps.orders.read_models.order_detail import order_detail_builds
from apps.orders.read_models.order_list import order_list
from apps.orders.read_models.search import order_search
from apps.orders.read_models.store_stats import store_stats
from apps.orders.settings import Settings
from eventbook import EventRegistry, EventStore, projections
from eventbook.projections import Projection, ProjectionDatabase, active_build

FEED_PREFIX = "orders-feed:"
API_KEY_EVENTS = ("ApiKeyIssued", "ApiKeyRevoked")


async def open_database(url: str) -> ProjectionDatabase:
    """The read-model database at `url` (sqlite:///path or postgresql://…?schema=…)."""
    return await projections.open(url)


def order_projections(
    database: ProjectionDatabase,
    events: EventRegistry,
    *,
    redis: Any = None,
    order_detail: Sequence[str] = ("sql",),
    order_list_partitions: int = 1,
) -> list[Projection[Any]]:
    """Every Orders read model; with a Redis client, the live feed projection too.

    `order_detail` names the builds of the order page to run, by store ("sql", "redis"):
    both while it moves from one store to the other (see docs/projections.md).
    `order_list_partitions` splits the order list's next build (ORDERS_ORDER_LIST_PARTITIONS).
    """
    detail = order_detail_builds(database, events.upcast, redis=redis)
    missing = [store for store in order_detail if store not in detail]
    if missing:
        raise ValueError(f"order_detail builds {missing} need a Redis client (ORDERS_REDIS_URL)")
    built: list[Projection[Any]] = [
        order_list(database, events.upcast, partitions=order_list_partitions),
        *(detail[store] for store in sorted(order_detail, key=lambda s: detail[s].version)),
        order_search(database, events.upcast),
        analytics(database, events.upcast),
        store_stats(database, [*events.names, *API_KEY_EVENTS]),
    ]
    if redis is not None:
        built.append(redis_feed_projection(redis, database, FEED_PREFIX, events.names))
    return built


async def active_builds(defined: list[Projection[Any]]) -> list[Projection[Any]]:
    """Each projection at the version its database marks active: after a blue/green
    rebuild that is the newer build, whatever version the code names.

    The order page is the exception: its versions name the store each build lives in
    (1 SQL, 2 Redis), every one defined in code, and its readers follow the active one
    through an `ActiveView`.

    A build keeps the partition count it was set up with (changing it would move events
    between partitions whose checkpoints disagree): a new count set in the code or the
    settings applies to the next build, made by a blue/green rebuild.
    """
    return [p if p.name == ORDER_DETAIL else await _as_registered(p) for p in defined]


async def _as_registered(projection: Projection[Any]) -> Projection[Any]:
    active = await active_build(projection)
    rows = await active.sink.database.partitions(active.name, active.version)
    if rows and len(rows) != active.partitions:
        return dataclasses.replace(active, partitions=len(rows))
    return active


async def build(store: EventStore) -> list[Projection[Any]]:
    """Entry point for `python -m eventbook.projections`: configured from ORDERS_* variables."""
    settings = Settings.from_env()
    database = await open_database(settings.read_models_url)
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    personal = await open_personal_data(settings)
    defined = order_projections(
        database,
        order_events(personal),
        redis=redis,
        order_detail=settings.order_detail_builds,
        order_list_partitions=settings.order_list_partitions,
    )
    return await active_builds(defined)
