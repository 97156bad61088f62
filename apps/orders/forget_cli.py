"""`python -m apps.orders forget CUSTOMER_ID`: forget a customer from a shell.

Runs with the service's own settings (ORDERS_* variables, ORDERS_MASTER_KEY among them):
destroys the customer's key in the service's key store, waits ORDERS_KEY_CACHE_SECONDS
for the running processes' caches to let go of it, then rebuilds every read model IN
PLACE: this process ends when it is done, so no one would run a new build on after a
blue/green switch (a running daemon holding a lease replays its build itself). The HTTP
endpoint, `POST /api/customers/{id}/forget`, rebuilds blue/green instead.
Exit codes: 0 done, 1 failed (one line on stderr says why), 2 bad usage.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated

import typer

from apps.orders.domain.events import order_events
from apps.orders.keys_cli import _open_store, _require_sqlite_file
from apps.orders.personal import Forgotten, forget_customer, open_personal_data
from apps.orders.projections import active_builds, open_database, order_projections
from apps.orders.settings import Settings
from eventbook import EventbookError

CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def forget(
    customer_id: Annotated[str, typer.Argument(help="the customer's id (guest-<order id>)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Forget a customer: destroy their key, then rebuild every read model. Cannot be undone.

    Example: python -m apps.orders forget customer-42
    """
    if not CUSTOMER_ID.fullmatch(customer_id):
        raise typer.BadParameter("1 to 64 of A-Z a-z 0-9 _ . : -", param_hint="CUSTOMER_ID")
    try:
        settings = Settings.from_env()
        _require_sqlite_file(settings.events_url)
        forgotten = asyncio.run(_forget(settings, customer_id))
    except (EventbookError, ValueError, OSError) as error:
        typer.echo(f"error: {error or type(error).__name__}", err=True)
        raise typer.Exit(1) from None
    answer = forgotten.as_dict(customer_id)
    if as_json:
        typer.echo(json.dumps(answer))
        return
    state = "forgotten" if forgotten.destroyed else "had no key (unknown, or forgotten before)"
    typer.echo(f"customer {customer_id}: {state}; rebuilt {', '.join(answer['rebuilt'])} in place")


async def _forget(settings: Settings, customer_id: str) -> Forgotten:
    store = await _open_store(settings.events_url)
    personal = await open_personal_data(settings)
    database = await open_database(settings.read_models_url)
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
    try:
        # The builds readers see now (a rebuild may have switched to a newer version).
        projections = await active_builds(
            order_projections(
                database,
                order_events(personal),
                redis=redis,
                order_detail=settings.order_detail_builds,
                order_list_partitions=settings.order_list_partitions,
            )
        )
        return await forget_customer(
            customer_id,
            personal,
            store,
            projections,
            wait_for_caches=settings.key_cache_seconds,
        )
    finally:
        if redis is not None:
            await redis.aclose()
        await database.close()
        await personal.keyring.store.close()
        await store.close()
