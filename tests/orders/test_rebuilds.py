"""Blue/green rebuilds over real HTTP, on both profiles (SQLite; PostgreSQL + Redis): a
reader polling throughout never sees fewer orders than before the rebuild started."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PostgresForTests, new_schema_name
from tests.orders.conftest import MASTER_KEY, RunningService, _service
from tests.orders.test_api import place

SEED = 150
REBUILT = ("orders", "order_search", "analytics")


def _embedded_env(data: Path, batch_size: int = 10) -> dict[str, str]:
    return {
        "ORDERS_EVENTS_URL": f"sqlite:///{data}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{data}/read-models.db",
        "ORDERS_SEED_ORDERS": str(SEED),
        # Many small batches: readers poll throughout the rebuild.
        "ORDERS_REBUILD_BATCH_SIZE": str(batch_size),
    }


def rebuild_service(
    request: pytest.FixtureRequest,
    data: Path,
    batch_size: int,
    extra: dict[str, str] | None = None,
) -> Iterator[RunningService]:
    """A service of its own (its versions change), on the profile `request.param` names,
    with `extra` settings besides."""
    env = {**_embedded_env(data, batch_size), **(extra or {})}
    if request.param == "production":
        postgres: PostgresForTests = request.getfixturevalue("postgres")
        schema = new_schema_name()
        env = {
            **env,
            "ORDERS_PROFILE": "production",
            "ORDERS_MASTER_KEY": MASTER_KEY,
            "ORDERS_EVENTS_URL": postgres.store_url(schema),
            "ORDERS_READ_MODELS_URL": postgres.store_url(f"{schema}_rm"),
            "ORDERS_REDIS_URL": request.getfixturevalue("redis_url"),
        }
    yield from _service(env, data)


@pytest.fixture(scope="module", params=["embedded", "production"])
def rebuilding(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    data = tmp_path_factory.mktemp(f"rebuild-{request.param}")
    yield from rebuild_service(request, data, batch_size=10)


def counts(client: httpx.Client, term: str) -> tuple[int, int, int]:
    """What a reader sees: all orders, the orders a search finds, the analytics' count."""
    listed = client.get("/api/orders", params={"page_size": 1})
    found = client.get("/api/orders", params={"q": term, "page_size": 1})
    summary = client.get("/api/analytics/summary")
    for answer in (listed, found, summary):
        assert answer.status_code == 200, answer.text
    return listed.json()["total"], found.json()["total"], summary.json()["orders"]


def projections(client: httpx.Client) -> list[dict[str, Any]]:
    answer = client.get("/api/projections")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def active_versions(client: httpx.Client) -> dict[str, int]:
    return {p["name"]: p["version"] for p in projections(client) if p["active"]}


def rebuilt(
    operator: httpx.Client, names: tuple[str, ...], above: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Wait until the latest rebuild of each of `names` is done (and, with `above`, has
    made an active build newer than the version given: an earlier rebuild on a shared
    service also reads "done"); the new builds' statuses seen while they were being built."""
    progress: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while True:
        items = projections(operator)
        progress += [p for p in items if p["state"] == "rebuilding"]
        active = [p for p in items if p["name"] in names and p["active"]]
        rebuilds = [p["rebuild"] for p in active]
        # Each name listed: a build is briefly missing from the list while it is switched.
        listed = sorted(p["name"] for p in active) == sorted(names)
        newer = above is None or all(p["version"] > above[p["name"]] for p in active)
        if listed and newer and all(r is not None and r["phase"] == "done" for r in rebuilds):
            return progress
        assert not [r for r in rebuilds if r and r["phase"] == "failed"], rebuilds
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_a_rebuild_never_shows_readers_fewer_orders(rebuilding: RunningService) -> None:
    service = rebuilding
    operator = service.client(headers=service.operator)
    reader, writer = service.client(), service.client()
    first = reader.get("/api/orders", params={"page_size": 1}).json()["items"][0]
    term = first["customer"].split()[-1]
    before = counts(reader, term)
    assert min(before) > 0
    versions = active_versions(operator)
    seen: list[tuple[float, tuple[int, int, int]]] = []
    stop = threading.Event()

    def poll() -> None:
        with service.client() as polling:
            while not stop.is_set():
                seen.append((time.monotonic(), counts(polling, term)))

    polling = threading.Thread(target=poll)
    polling.start()
    try:
        started = time.monotonic()
        for name in REBUILT:
            answer = operator.post(f"/api/projections/{name}/rebuild")
            assert answer.status_code == 202, answer.text
            assert answer.json() == {
                "projection": name,
                "state": "rebuilding",
                "from_version": versions[name],
                "to_version": versions[name] + 1,
            }
        # Seen at once, before the commands below: on a busy machine those may take as
        # long as the rebuild.
        progress = [p for p in projections(operator) if p["state"] == "rebuilding"]
        for _ in range(3):  # events appended while the new builds catch up
            assert place(writer, service, customer=f"Ada {term}").status_code == 202
        progress += rebuilt(operator, REBUILT)
        finished = time.monotonic()
        while seen[-1][0] < finished:
            time.sleep(0.05)
    finally:
        stop.set()
        polling.join()
    during = [c for at, c in seen if started <= at <= finished]
    assert during, "the reader never polled during the rebuild"
    for kind, index in (("orders", 0), ("search", 1), ("analytics", 2)):
        fewest = min(c[index] for _, c in seen)
        assert fewest >= before[index], f"a reader saw {fewest} {kind}, {before[index]} before"
    assert counts(reader, term) == tuple(n + 3 for n in before)
    assert active_versions(operator) == {
        **versions,
        **{name: versions[name] + 1 for name in REBUILT},
    }
    # While building, the new build was listed beside the live one, with its progress.
    assert progress, "the status API never showed a build in state rebuilding"
    shown = progress[0]
    assert not shown["active"]
    assert shown["rebuild"]["phase"] in ("building", "switching")
    assert {"events_done", "events_remaining", "rate", "eta_seconds"} <= set(shown["rebuild"])
    assert max(p["rebuild"]["events_done"] for p in progress) > 0
    for log in service.log.parent.glob("*.log"):  # the service's, and the daemon's
        assert "lost its lease" not in log.read_text(), log


def test_the_redis_feed_is_refused_with_a_reason(rebuilding: RunningService) -> None:
    with rebuilding.client(headers=rebuilding.operator) as operator:
        if "live_feed" not in {p["name"] for p in projections(operator)}:
            pytest.skip("the embedded profile has no Redis feed projection")
        answer = operator.post("/api/projections/live_feed/rebuild")
    assert answer.status_code == 409, answer.text
    problem = answer.json()
    assert problem["type"] == "/problems/rebuild-not-supported"
    assert "Redis" in problem["detail"]


def test_the_order_page_is_moved_between_stores_not_rebuilt_here(
    rebuilding: RunningService,
) -> None:
    with rebuilding.client(headers=rebuilding.operator) as operator:
        before = active_versions(operator)["order_detail"]
        answer = operator.post("/api/projections/order_detail/rebuild")
        assert answer.status_code == 409, answer.text
        problem = answer.json()
        assert problem["type"] == "/problems/rebuild-not-supported"
        assert "eventbook projections" in problem["detail"]
        assert active_versions(operator)["order_detail"] == before


def test_the_rebuilt_version_survives_a_restart(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path)
    running = _service(env, tmp_path)
    service = next(running)
    with service.client(headers=service.operator) as operator:
        before = active_versions(operator)["store_stats"]
        assert operator.post("/api/projections/store_stats/rebuild").status_code == 202
        answer = operator.post("/api/projections/store_stats/rebuild")
        assert answer.status_code in (202, 409)  # 409 while the first one runs
        if answer.status_code == 409:
            assert answer.json()["type"] == "/problems/rebuild-in-progress"
        rebuilt(operator, ("store_stats",))
        after = active_versions(operator)["store_stats"]
        assert after > before
    running.close()  # stops the service
    again = _service(env, tmp_path)
    service = next(again)
    try:
        with service.client(headers=service.operator) as operator:
            items = [p for p in projections(operator) if p["name"] == "store_stats"]
            assert [(p["version"], p["active"], p["state"]) for p in items] == [
                (after, True, "live")
            ]
    finally:
        again.close()


def test_a_rebuild_cut_short_by_a_stop_leaves_readers_on_the_old_build(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path, batch_size=1)  # slow: still building when the service stops
    running = _service(env, tmp_path)
    service = next(running)
    with service.client(headers=service.operator) as operator:
        before = active_versions(operator)["orders"]
        assert operator.post("/api/projections/orders/rebuild").status_code == 202
        building = [p for p in projections(operator) if p["state"] == "rebuilding"]
        assert [p["rebuild"]["phase"] for p in building] == ["building"]
    running.close()
    stopped = service.log.read_text()
    assert "Traceback" not in stopped
    assert "rebuild of orders" not in stopped  # not reported as a failed rebuild
    again = _service({**env, "ORDERS_REBUILD_BATCH_SIZE": "500"}, tmp_path)
    service = next(again)
    try:
        with service.client(headers=service.operator) as operator:
            assert active_versions(operator)["orders"] == before
            # The next rebuild starts over the leftover build and finishes.
            answer = operator.post("/api/projections/orders/rebuild")
            assert answer.json()["to_version"] == before + 1
            rebuilt(operator, ("orders",))
            assert active_versions(operator)["orders"] == before + 1
    finally:
        again.close()
