"""A blue/green rebuild started from the dashboard, in Chromium, on SQLite and PostgreSQL:
the operator confirms, watches the build's progress, and a reader polling the API from the
same browser meanwhile never sees fewer orders than before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import tab
from tests.orders.conftest import OPERATOR_KEY, RunningService
from tests.orders.test_rebuilds import active_versions, rebuild_service

# A reader inside the page: the list's total and the analytics' count, polled back to back.
READER = """() => {
  window.seen = [];
  window.polling = true;
  const headers = { "X-API-Key": localStorage.getItem("eventbook-api-key") };
  const read = (path) => fetch(path, { headers }).then((r) => {
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  });
  (async () => {
    while (window.polling) {
      const [list, summary] = await Promise.all([
        read("/api/orders?page_size=1"), read("/api/analytics/summary"),
      ]);
      window.seen.push([list.total, summary.orders]);
    }
  })().catch((error) => { window.readerError = String(error); });
}"""


@pytest.fixture(scope="module", params=["embedded", "production"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    data = tmp_path_factory.mktemp(f"rebuild-ui-{request.param}")
    yield from rebuild_service(request, data, batch_size=1)  # slow enough to watch


def test_a_rebuild_from_the_dashboard_is_confirmed_shown_and_invisible_to_readers(
    browser: Browser, service: RunningService
) -> None:
    with service.client(headers=service.operator) as operator:
        version = active_versions(operator)["orders"]
        before = (
            operator.get("/api/orders", params={"page_size": 1}).json()["total"],
            operator.get("/api/analytics/summary").json()["orders"],
        )
    with tab(browser, service, OPERATOR_KEY) as dashboard:
        page = dashboard.open("#/projections")
        row = page.locator('#projections-table tr[data-projection="orders"]')
        expect(row.locator(".pill")).to_have_text("live")
        expect(row).to_contain_text(f"v{version}")

        # Asked first: cancelling starts nothing.
        row.get_by_role("button", name="Rebuild").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text(f"Version {version + 1} is built from the start of history")
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_have_count(0)
        with service.client(headers=service.operator) as operator:
            listed = operator.get("/api/projections").json()["items"]
        assert [p["rebuild"] for p in listed if p["name"] == "orders"] == [None]

        page.evaluate(READER)
        page.wait_for_function("window.seen.length > 0")
        row.get_by_role("button", name="Rebuild").click()
        page.get_by_role("dialog").get_by_role("button", name="Rebuild orders").click()
        expect(page.locator("#toast")).to_have_text(
            f"Rebuilding orders: v{version + 1} beside v{version}"
        )
        building = page.locator('#projections-table tr[data-building="orders"]')
        expect(building.locator(".pill")).to_have_text("rebuilding")
        expect(building).to_contain_text(f"v{version + 1}")
        expect(building.locator("[data-progress]")).to_contain_text(
            re.compile(r"[\d,]+ of [\d,]+\+? events · [\d,]+ events/s · ETA ")
        )
        expect(building).to_contain_text(f"Readers keep v{version} until v{version + 1}")
        expect(row.get_by_role("button", name="Rebuilding…")).to_be_disabled()
        expect(row.locator(".pill")).to_have_text("live")  # readers are still on it
        dashboard.screenshot("projections-rebuilding")

        done = page.locator('#projections-table tr[data-outcome="orders"][data-phase="done"]')
        expect(done).to_contain_text(
            f"readers switched from v{version} to v{version + 1}", timeout=120_000
        )
        expect(building).to_have_count(0)
        expect(row).to_contain_text(f"v{version + 1}")
        expect(row.get_by_role("button", name="Rebuild")).to_be_enabled()
        seen: list[Any] = page.evaluate("() => { window.polling = false; return window.seen; }")
        assert page.evaluate("() => window.readerError || null") is None
    assert len(seen) > 5, seen
    assert min(total for total, _ in seen) >= before[0], (before, seen)
    assert min(orders for _, orders in seen) >= before[1], (before, seen)
