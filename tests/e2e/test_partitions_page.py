"""A partitioned order list (ORDERS_ORDER_LIST_PARTITIONS=3) on the dashboard, in Chromium:
the projections page lists a row per partition under the build's row, the Operations page
each partition's lag under the build's chart, and a rebuild lists the new build's
partitions while it catches up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import tab
from tests.orders.conftest import OPERATOR_KEY, RunningService, _service

PARTITIONS = 3
ROW_KEYS = """() => [...document.querySelectorAll("#projections-table tbody tr")]
  .map((row) => row.dataset.projection || row.dataset.partition || row.dataset.building || "")"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    data = tmp_path_factory.mktemp("partitions-ui")
    env = {
        "ORDERS_EVENTS_URL": f"sqlite:///{data}/orders.db",
        "ORDERS_READ_MODELS_URL": f"sqlite:///{data}/read-models.db",
        "ORDERS_SEED_ORDERS": "60",
        "ORDERS_ORDER_LIST_PARTITIONS": str(PARTITIONS),
        "ORDERS_REBUILD_BATCH_SIZE": "1",  # slow enough to see the new build's partitions
    }
    yield from _service(env, data)


def test_the_projections_page_shows_a_row_per_partition(
    browser: Browser, service: RunningService
) -> None:
    with tab(browser, service, OPERATOR_KEY) as dashboard:
        page = dashboard.open("#/projections")
        row = page.locator('#projections-table tr[data-projection="orders"]')
        expect(row).to_have_attribute("data-partitions", str(PARTITIONS))
        expect(row).to_contain_text(f"{PARTITIONS} partitions")
        parts = page.locator('#projections-table tr.partition-row[data-partition^="orders@v1#"]')
        expect(parts).to_have_count(PARTITIONS)
        for n in range(PARTITIONS):
            part = page.locator(f'#projections-table tr[data-partition="orders@v1#{n}"]')
            expect(part).to_contain_text(f"partition {n}")
            expect(part.locator(".pill")).to_have_text("live")
            expect(part.locator("[data-lag]")).to_have_text("0")
            expect(part.locator("[data-lease]")).to_contain_text("lease: ")
            expect(part.locator("[data-lease]")).not_to_contain_text("not held")
        # Under the build's own row, before the next projection's.
        keys: list[str] = page.evaluate(ROW_KEYS)
        at = keys.index("orders")
        assert keys[at + 1 : at + 1 + PARTITIONS] == [
            f"orders@v1#{n}" for n in range(PARTITIONS)
        ], keys
        # Unpartitioned builds list no partition rows.
        expect(page.locator('#projections-table tr[data-partition^="analytics@"]')).to_have_count(0)
        dashboard.screenshot("projections-partitions")

        # The Operations page: each partition's lag under the build's chart.
        page.get_by_role("link", name="Operations").click()
        lags = page.locator('#projection-lags [data-projection="orders@v1"] .partition-lags')
        expect(lags).to_contain_text(f"Worst of {PARTITIONS} partitions", timeout=20_000)
        expect(lags.locator("[data-partition]")).to_have_count(PARTITIONS)

        # A rebuild lists the new build's partitions under it while it catches up.
        page.get_by_role("link", name="Projections").click()
        row.get_by_role("button", name="Rebuild").click()
        page.get_by_role("dialog").get_by_role("button", name="Rebuild orders").click()
        building = page.locator('#projections-table tr[data-building="orders"]')
        expect(building).to_contain_text("v2")
        new_parts = page.locator(
            '#projections-table tr.partition-row[data-partition^="orders@v2#"]'
        )
        expect(new_parts).to_have_count(PARTITIONS)
        done = page.locator('#projections-table tr[data-outcome="orders"][data-phase="done"]')
        expect(done).to_contain_text("readers switched from v1 to v2", timeout=120_000)
        expect(building).to_have_count(0)
        expect(page.locator('#projections-table tr[data-partition^="orders@v1#"]')).to_have_count(0)
        expect(new_parts).to_have_count(PARTITIONS)
        expect(row).to_have_attribute("data-partitions", str(PARTITIONS))
