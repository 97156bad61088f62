"""The Orders projections, built for a store and a read-model database.

The production daemon runs them as its own process::

    python -m eventbook.projections run apps.orders.projections:build --store "$ORDERS_EVENTS_URL"
"""

from __future__ import annotations

from typing import Any

from apps.orders.domain.events import order_events
from apps.orders.feed import redis_feed_projection
from apps.orders.personal import open_personal_data
from apps.orders.read_models.analytics import analytics
from apps.orders.read_models.order_list import order_list
from apps.orders.read_models.search import order_search
from apps.orders.read_models.store_stats import store_stats
from apps.orders.settings import Settings
from eventbook import EventRegistry, EventStore, projections
from eventbook.projections import Projection, ProjectionDatabase

FEED_PREFIX = "orders-feed:"
API_KEY_EVENTS = ("ApiKeyIssued", "ApiKeyRevoked")


async def open_database(url: str) -> ProjectionDatabase:
    """The read-model database at `url` (sqlite:///path or postgresql://…?schema=…)."""
    return await projections.open(url)


def order_projections(
    database: ProjectionDatabase, events: EventRegistry, *, redis: Any = None
) -> list[Projection[Any]]:
    """Every Orders read model; with a Redis client, the live feed projection too."""
    built: list[Projection[Any]] = [
        order_list(database, events.upcast),
        order_search(database, events.upcast),
        analytics(database, events.upcast),
        store_stats(database, [*events.names, *API_KEY_EVENTS]),
    ]
    if redis is not None:
        built.append(redis_feed_projection(redis, database, FEED_PREFIX, events.names))
    return built


async def build(store: EventStore) -> list[Projection[Any]]:
    """Entry point for `python -m eventbook.projections`: configured from ORDERS_* variables."""
    settings = Settings.from_env()
    database = await open_database(settings.read_models_url)
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    personal = await open_personal_data(settings)
    return order_projections(database, order_events(personal), redis=redis)
