"""The seed's promise, end to end on PostgreSQL + Redis: the order page (GET
/api/orders/{id}) is rebuilt as a new version in Redis beside its SQL version, traffic
switches, the SQL version is dropped, all with `eventbook projections`; every order
answers the same before and after, and new orders are served from Redis at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from redis import Redis

from tests.conftest import PostgresForTests, new_schema_name
from tests.orders.conftest import (
    MASTER_KEY,
    ROOT,
    SEED_ORDERS,
    RunningService,
    _python_path,
    _service,
)
from tests.orders.test_api import place


@pytest.fixture(scope="module")
def moving_service(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresForTests, redis_url: str
) -> Iterator[RunningService]:
    logs = tmp_path_factory.mktemp("orders-moving")
    schema = new_schema_name()
    env = {
        "ORDERS_PROFILE": "production",
        "ORDERS_MASTER_KEY": MASTER_KEY,
        "ORDERS_EVENTS_URL": postgres.store_url(schema),
        "ORDERS_READ_MODELS_URL": postgres.store_url(f"{schema}_rm"),
        "ORDERS_REDIS_URL": redis_url.rsplit("/", 1)[0] + "/5",  # a Redis database of its own
        "ORDERS_SEED_ORDERS": str(SEED_ORDERS),
        # The daemon runs both builds while the page moves (docs/projections.md).
        "ORDERS_ORDER_DETAIL_BUILDS": "sql,redis",
    }
    Redis.from_url(env["ORDERS_REDIS_URL"]).flushdb()
    yield from _service(env, logs)


def projections_command(service: RunningService, *args: str) -> str:
    command = [sys.executable, "-m", "eventbook.cli", "projections", *args]
    command += [
        "--app",
        "apps.orders.projections:build",
        "--store",
        service.env["ORDERS_EVENTS_URL"],
    ]
    env = {**os.environ, **service.env, "PYTHONPATH": _python_path()}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def every_order(client: httpx.Client) -> dict[str, dict[str, Any]]:
    ids: list[str] = []
    page = 1
    while True:
        listed = client.get("/api/orders", params={"page": page, "page_size": 100}).json()
        ids += [order["order_id"] for order in listed["items"]]
        if len(ids) >= listed["total"]:
            break
        page += 1
    pages = {}
    for order_id in ids:
        answer = client.get(f"/api/orders/{order_id}")
        assert answer.status_code == 200, answer.text
        pages[order_id] = answer.json()
    return pages


async def read_model_tables(url: str) -> set[str]:
    schema = dict(p.split("=") for p in url.split("?", 1)[1].split("&"))["schema"]
    connection = await asyncpg.connect(url.split("?", 1)[0])
    try:
        rows = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
    finally:
        await connection.close()
    return {row[0] for row in rows}


def test_the_order_page_moves_from_sql_to_redis_and_answers_the_same(
    moving_service: RunningService,
) -> None:
    service = moving_service
    redis = Redis.from_url(service.env["ORDERS_REDIS_URL"])
    with service.client() as client:
        before = every_order(client)
        assert len(before) >= SEED_ORDERS
        projections_command(service, "build", "order_detail", "--version", "2")
        assert len(list(redis.scan_iter(match="order_detail:v2:*"))) == len(before)
        out = projections_command(service, "switch", "order_detail", "--version", "2")
        assert "readers now see order_detail@v2" in out
        assert every_order(client) == before
        projections_command(service, "drop", "order_detail", "--version", "1")
        tables = asyncio.run(read_model_tables(service.env["ORDERS_READ_MODELS_URL"]))
        assert "order_detail_v1" not in tables
        assert "orders_v1" in tables
        # Only Redis holds the page now: every order still answers the same ...
        assert every_order(client) == before
        # ... and a new order is read from Redis as soon as its position is reached.
        reply = place(client, service).json()
        page = client.get(
            f"/api/orders/{reply['order_id']}", params={"min_position": reply["position"]}
        )
        assert page.status_code == 200, page.text
        assert (page.json()["status"], page.json()["total"]) == ("placed", "56.00")
        assert redis.exists(f"order_detail:v2:{reply['order_id']}") == 1
    status = projections_command(service, "status", "--json")
    assert '"order_detail"' in status


def test_the_order_page_builds_are_chosen_by_store_and_checked() -> None:
    from apps.orders.settings import Settings

    redis = {"ORDERS_REDIS_URL": "redis://cache:6379/0"}
    assert Settings.from_env({}).order_detail_builds == ("sql",)
    both = {**redis, "ORDERS_ORDER_DETAIL_BUILDS": "sql, redis"}
    assert Settings.from_env(both).order_detail_builds == ("sql", "redis")
    with pytest.raises(ValueError, match="needs ORDERS_REDIS_URL"):
        Settings.from_env({"ORDERS_ORDER_DETAIL_BUILDS": "redis"})
    with pytest.raises(ValueError, match="sql and/or redis, not 'mongo'"):
        Settings.from_env({**redis, "ORDERS_ORDER_DETAIL_BUILDS": "mongo"})
