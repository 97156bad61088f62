"""The order list split into partitions (ORDERS_ORDER_LIST_PARTITIONS), over real HTTP on
both profiles (SQLite; PostgreSQL + Redis with the daemon in its own process): the status
shows each partition, and a blue/green rebuild of the partitioned build completes while a
reader polling throughout never sees fewer orders."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from apps.orders.settings import Settings

from tests.orders.conftest import RunningService
from tests.orders.test_api import place
from tests.orders.test_rebuilds import active_versions, projections, rebuild_service, rebuilt

PARTITIONS = 4


@pytest.fixture(scope="module", params=["embedded", "production"])
def partitioned(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    data = tmp_path_factory.mktemp(f"partitioned-{request.param}")
    yield from rebuild_service(
        request, data, batch_size=10, extra={"ORDERS_ORDER_LIST_PARTITIONS": str(PARTITIONS)}
    )


def order_list(client: httpx.Client, *, active: bool = True) -> dict[str, Any]:
    found = [p for p in projections(client) if p["name"] == "orders" and p["active"] is active]
    assert len(found) == 1, found
    return found[0]


def order_events(client: httpx.Client) -> int:
    """Events in the order streams: each order's version, summed over every order."""
    total, page = 0, 1
    while True:
        answer = client.get("/api/orders", params={"page_size": 200, "page": page})
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        total += sum(item["version"] for item in items)
        if len(items) < 200:
            return total
        page += 1


def test_the_status_shows_each_partition_and_the_worst_lag(
    partitioned: RunningService,
) -> None:
    with partitioned.client(headers=partitioned.operator) as operator:
        orders = order_list(operator)
        others = [p for p in projections(operator) if p["name"] != "orders"]
    parts = orders["partitions"]
    assert [p["partition"] for p in parts] == list(range(PARTITIONS))
    for part in parts:
        assert part["state"] == "live", part
        assert part["lag_events"] == 0
        assert part["owner"], "each partition's lease is held"
        assert part["position"] is not None
    assert orders["lag_events"] == max(p["lag_events"] for p in parts)
    # The build's position is its slowest partition's: one of theirs, the lowest.
    assert orders["position"] in {p["position"] for p in parts}
    assert all(p["partitions"] == [] for p in others), others


def test_a_blue_green_rebuild_of_a_partitioned_build_never_shows_fewer_orders(
    partitioned: RunningService,
) -> None:
    service = partitioned
    operator = service.client(headers=service.operator)
    writer = service.client()
    version = active_versions(operator)["orders"]
    before = operator.get("/api/orders", params={"page_size": 1}).json()["total"]
    events_before = order_events(operator)
    seen: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        with service.client() as polling:
            while not stop.is_set():
                answer = polling.get("/api/orders", params={"page_size": 1})
                assert answer.status_code == 200, answer.text
                seen.append(answer.json()["total"])

    polling = threading.Thread(target=poll)
    polling.start()
    try:
        answer = operator.post("/api/projections/orders/rebuild")
        assert answer.status_code == 202, answer.text
        # Seen at once, before the commands below: on a busy machine those may take as
        # long as the rebuild.
        progress = [p for p in projections(operator) if p["state"] == "rebuilding"]
        for n in range(3):  # appended while the partitions catch up
            assert place(writer, service, customer=f"Parti Tioned {n}").status_code == 202
        progress += rebuilt(operator, ("orders",), above={"orders": version})
    finally:
        stop.set()
        polling.join()
    assert len(seen) > 3, seen
    assert min(seen) >= before, f"a reader saw {min(seen)} orders, {before} before"
    assert active_versions(operator)["orders"] == version + 1
    after = order_list(operator)
    assert len(after["partitions"]) == PARTITIONS  # the new build has as many
    assert after["version"] == version + 1
    assert operator.get("/api/orders", params={"page_size": 1}).json()["total"] == before + 3
    # The new build was listed while it was built, with every partition beside it.
    assert progress, "the status API never showed the build being rebuilt"
    assert {len(p["partitions"]) for p in progress} == {PARTITIONS}
    # Every partition's events counted, not one partition's share.
    done = order_list(operator)["rebuild"]
    assert done["phase"] == "done"
    assert done["events_done"] >= events_before + 3, (done, events_before)
    for shown in progress:
        rebuild = shown["rebuild"]
        if rebuild["phase"] == "building" and rebuild["events_remaining"] is not None:
            # Less by at most a batch per partition: one committed but not yet counted.
            total = rebuild["events_done"] + rebuild["events_remaining"]
            assert total >= events_before - PARTITIONS * 10, (rebuild, events_before)
    # The old build's tables are gone: no build but the new one is listed.
    assert [p["version"] for p in projections(operator) if p["name"] == "orders"] == [version + 1]
    for log in service.log.parent.glob("*.log"):
        assert "lost its lease" not in log.read_text(), log
    operator.close()
    writer.close()


def test_the_partition_count_is_checked() -> None:
    base = {"ORDERS_EVENTS_URL": "sqlite:///x/orders.db"}
    assert Settings.from_env(base).order_list_partitions == 1
    assert (
        Settings.from_env(base | {"ORDERS_ORDER_LIST_PARTITIONS": "8"}).order_list_partitions == 8
    )
    for bad, says in (("0", "at least 1"), ("257", "at most 256"), ("two", "whole number")):
        with pytest.raises(ValueError, match=f"ORDERS_ORDER_LIST_PARTITIONS must be .*{says}"):
            Settings.from_env(base | {"ORDERS_ORDER_LIST_PARTITIONS": bad})
