"""The customers' personal data: where its keys live, and forgetting a customer.

A customer's name, e-mail and address lines are encrypted under a key of their own
(`eventbook.personal`); forgetting them destroys the key, then rebuilds the read models
so that no copy of what the events said survives there (docs/personal-data.md): blue/green
where the projection allows it, so readers never see a read model empty or partial.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.orders.domain.events import ALL_EVENTS
from apps.orders.feed import LIVE_FEED
from apps.orders.read_models.order_detail import NAME as ORDER_DETAIL
from apps.orders.settings import Settings
from eventbook import EventStore
from eventbook.personal import (
    Keyring,
    MasterKey,
    MasterKeyError,
    PersonalDataStage,
    open_key_store,
)
from eventbook.projections import Projection, SearchSink, SqlSink, drop_build, rebuild

log = logging.getLogger("orders.personal")

MASTER_KEY_FILE = "master-key"
"""The embedded profile's master key, beside its data when ORDERS_MASTER_KEY is unset."""


def master_key(settings: Settings) -> MasterKey:
    """ORDERS_MASTER_KEY; embedded without it, a key made once beside the SQLite data."""
    if settings.master_key is not None:
        return MasterKey.parse(settings.master_key)
    directory = settings.data_directory()
    if settings.profile != "embedded" or directory is None:
        raise MasterKeyError("set ORDERS_MASTER_KEY (base64 of 32 random bytes)")
    path = directory / MASTER_KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # readable by its owner only, before the key is in it
        path.write_text(MasterKey.generate())
    return MasterKey.parse(path.read_text())


def keys_url(settings: Settings) -> str:
    """ORDERS_KEYS_URL; by default beside the events, or for a NATS store (which holds
    events only) beside the read models."""
    if settings.keys_url is not None:
        return settings.keys_url
    if settings.events_url.startswith("nats://"):
        return settings.read_models_url
    return settings.events_url


async def open_personal_data(settings: Settings) -> PersonalDataStage:
    """The stage that encrypts the customers' fields, on the service's key store."""
    master = master_key(settings)
    keys = await open_key_store(keys_url(settings))
    keyring = Keyring(keys, master, cache_seconds=settings.key_cache_seconds)
    return PersonalDataStage(keyring, ALL_EVENTS)


REBUILT_BESIDE = (SqlSink, SearchSink)
"""Sinks whose builds have tables of their own, so a new one is built beside the live one."""
HOLDS_NO_PERSONAL_DATA = frozenset({LIVE_FEED})
"""Read models that copy none of the encrypted fields: the live feed's items carry an
event's id, position, stream, version, type, time and the API role that caused it."""


class RebuildHow(enum.Enum):
    BLUE_GREEN = "blue-green"
    """Built beside the live build, readers switched to it, the old build dropped."""
    IN_PLACE = "in-place"
    """Emptied and replayed: readers of this build see it partial meanwhile."""
    NOT_NEEDED = "not-needed"


def how_to_rebuild(projection: Projection[Any], *, blue_green: bool) -> RebuildHow:
    """How a forget rebuilds `projection`: beside itself where its sink allows it (and the
    caller can run the new build on), in place otherwise. The order page's builds are
    numbered by the store they live in (1 SQL, 2 Redis): a next version would be another
    store, so the active build is rebuilt in place."""
    if projection.name in HOLDS_NO_PERSONAL_DATA:
        return RebuildHow.NOT_NEEDED
    beside = isinstance(projection.sink, REBUILT_BESIDE) and projection.name != ORDER_DETAIL
    if blue_green and beside:
        return RebuildHow.BLUE_GREEN
    return RebuildHow.IN_PLACE


@dataclass(frozen=True)
class Forgotten:
    """What a forget did: whether a key was destroyed, and how each read model was rebuilt."""

    destroyed: bool
    rebuilt: dict[str, RebuildHow]

    def as_dict(self, customer_id: str) -> dict[str, Any]:
        rebuilt = [n for n, how in self.rebuilt.items() if how is not RebuildHow.NOT_NEEDED]
        return {
            "customer_id": customer_id,
            "forgotten": self.destroyed,
            "rebuilt": rebuilt,
            "rebuilt_in_place": [
                n for n, how in self.rebuilt.items() if how is RebuildHow.IN_PLACE
            ],
        }


async def forget_customer(
    customer_id: str,
    personal: PersonalDataStage,
    store: EventStore,
    projections: Sequence[Projection[Any]],
    *,
    wait_for_caches: float,
    blue_green: Callable[[str], Awaitable[Any]] | None = None,
) -> Forgotten:
    """Destroy the customer's key, then rebuild every read model that copies their data.

    With `blue_green` (the service's `Rebuilds.complete` by name: it runs the new builds
    on), each projection whose sink allows it is built beside the live one and readers
    are switched to it; this returns once the old builds, which still hold the data, are
    dropped. The others are rebuilt in place (`how_to_rebuild`); an order-page build that
    is retired (it is never served again) is dropped instead.

    Other processes (a projection daemon, say) may hold the key in their caches for up to
    `wait_for_caches` seconds: the rebuilds start after that, so they read placeholders
    everywhere. `destroyed` is False if the customer had no key (unknown, or forgotten
    before); the read models are rebuilt all the same.
    """
    destroyed = await personal.forget(customer_id)
    plan = {p.label: how_to_rebuild(p, blue_green=blue_green is not None) for p in projections}
    log.info("customer forgotten; rebuilding %d read models", len(plan))
    if wait_for_caches > 0:
        await asyncio.sleep(wait_for_caches)
    work: list[Awaitable[Any]] = []
    for projection in projections:
        how = plan[projection.label]
        if how is RebuildHow.BLUE_GREEN and blue_green is not None:
            work.append(blue_green(projection.name))
        elif how is RebuildHow.IN_PLACE:
            work.append(_rebuild_in_place(store, projection))
    await asyncio.gather(*work)
    return Forgotten(destroyed, {p.name: plan[p.label] for p in projections})


async def _rebuild_in_place(store: EventStore, projection: Projection[Any]) -> None:
    row = await projection.sink.database.checkpoint(projection.name, projection.version)
    if row is not None and row.retired:
        await drop_build(projection)  # replaced by a newer build, never served again
        return
    await rebuild(store, projection)
