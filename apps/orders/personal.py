"""The customers' personal data: where its keys live, and forgetting a customer.

A customer's name, e-mail and address lines are encrypted under a key of their own
(`eventbook.personal`); forgetting them destroys the key, then rebuilds the read models
so that no copy of what the events said survives there (docs/personal-data.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from apps.orders.domain.events import ALL_EVENTS
from apps.orders.settings import Settings
from eventbook import EventStore
from eventbook.personal import (
    Keyring,
    MasterKey,
    MasterKeyError,
    PersonalDataStage,
    open_key_store,
)
from eventbook.projections import Projection, rebuild

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


async def forget_customer(
    customer_id: str,
    personal: PersonalDataStage,
    store: EventStore,
    projections: Sequence[Projection[Any]],
    *,
    wait_for_caches: float,
) -> bool:
    """Destroy the customer's key, then rebuild every projection from history.

    Other processes (a projection daemon, say) may hold the key in their caches for up to
    `wait_for_caches` seconds: the rebuild starts after that, so it reads placeholders
    everywhere. Returns False if the customer had no key (unknown, or forgotten before);
    the read models are rebuilt all the same.
    """
    destroyed = await personal.forget(customer_id)
    log.info("customer forgotten; rebuilding %d read models", len(projections))
    if wait_for_caches > 0:
        await asyncio.sleep(wait_for_caches)
    for projection in projections:
        await rebuild(store, projection)
    return destroyed
