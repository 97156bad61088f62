"""The Orders service moved onto a 3-node NATS cluster: its SQLite history copied with
`eventbook copy`, then the service started on `ORDERS_EVENTS_URL=nats://…` rebuilds its
read models from the cluster, takes a command and answers queries."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apps.orders.settings import Settings

from eventbook.personal import MasterKey
from tests.backends.test_nats import drop_streams
from tests.cli.test_copy import copy, everything
from tests.orders.conftest import RunningService, _service
from tests.orders.test_api import place
from tests.servers.nats import NatsCluster

SEEDED = 40


def orders_of(service: RunningService) -> dict[str, Any]:
    with service.client() as client:
        page = client.get("/api/orders", params={"page_size": 100}, headers=service.reader)
        assert page.status_code == 200, page.text
        return {order["order_id"]: order for order in page.json()["items"]}


def without_positions(orders: dict[str, Any]) -> dict[str, Any]:
    return {key: {**order, "position": None} for key, order in orders.items()}


@pytest.fixture
def nats_store(nats_cluster: NatsCluster) -> Iterator[str]:
    stream = f"O{uuid.uuid4().hex[:12]}"
    yield nats_cluster.url(stream=stream, replicas="3")
    asyncio.run(drop_streams(nats_cluster, stream))


def test_the_orders_service_runs_on_a_nats_store_copied_from_sqlite(
    tmp_path: Path, nats_store: str
) -> None:
    sqlite_store = f"sqlite:///{tmp_path}/orders.db"
    master_key = MasterKey.generate()
    with contextlib.contextmanager(_service)(
        {
            "ORDERS_MASTER_KEY": master_key,
            "ORDERS_EVENTS_URL": sqlite_store,
            "ORDERS_READ_MODELS_URL": f"sqlite:///{tmp_path}/read-models.db",
            "ORDERS_SEED_ORDERS": str(SEEDED),
        },
        tmp_path,
    ) as on_sqlite:
        before = orders_of(on_sqlite)
    assert len(before) == SEEDED

    copy(sqlite_store, nats_store)
    assert asyncio.run(everything(nats_store)) == asyncio.run(everything(sqlite_store))

    logs = tmp_path / "on-nats"
    logs.mkdir()
    with contextlib.contextmanager(_service)(
        {
            "ORDERS_EVENTS_URL": nats_store,
            "ORDERS_READ_MODELS_URL": f"sqlite:///{tmp_path}/read-models-nats.db",
            # `eventbook copy` moves events, not the customers' keys: they stay where they
            # were made, and the service on NATS is pointed at them.
            "ORDERS_MASTER_KEY": master_key,
            "ORDERS_KEYS_URL": sqlite_store,
        },
        logs,
    ) as on_nats:
        # Read models rebuilt from the cluster: equal but for positions, which are the
        # store's own (a NATS store takes two sequences per event: its id marker too).
        assert without_positions(orders_of(on_nats)) == without_positions(before)
        with on_nats.client() as client:
            accepted = place(client, on_nats, customer="Nora Natsworth")
            assert accepted.status_code == 202, accepted.text
            reply = accepted.json()
            order = client.get(
                f"/api/orders/{reply['order_id']}",
                params={"min_position": reply["position"]},
                headers=on_nats.reader,
            )
            assert order.status_code == 200, order.text
            assert order.json()["customer"] == "Nora Natsworth"
        assert len(orders_of(on_nats)) == SEEDED + 1


@pytest.mark.parametrize("profile", ["embedded", "production"])
def test_a_nats_store_without_a_read_model_database_is_refused(profile: str) -> None:
    env = {
        "ORDERS_PROFILE": profile,
        "ORDERS_EVENTS_URL": "nats://h1:4222,h2:4222,h3:4222?stream=ORDERS",
        "ORDERS_REDIS_URL": "redis://cache:6379/0",
    }
    with pytest.raises(ValueError, match="nats:// event store needs ORDERS_READ_MODELS_URL"):
        Settings.from_env(env)
