"""The Operations page in a real browser: rates, latencies and lags over the last minutes
from the service's own metrics, its readiness checks, and the largest streams."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import Dashboard


def test_the_operations_page_draws_the_service_s_metrics(dashboard: Dashboard) -> None:
    service = dashboard.service
    with httpx.Client(base_url=service.url, headers=service.operator, timeout=30) as client:
        builds = [
            f"{p['name']}@v{p['version']}" for p in client.get("/api/projections").json()["items"]
        ]
        sizes = client.get("/api/operations/store-sizes", params={"top": 10}).json()
        ready = client.get("/health/ready").json()

    page = dashboard.open("#/orders")
    page.get_by_label("API key").fill(service.reader["X-API-Key"])
    page.get_by_label("API key").press("Enter")
    expect(page.locator("#key-role")).to_have_text("Signed in as reader")
    page.get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()

    # The service samples its registry every 5 s; two samples make the first point.
    for chart in ("commands", "command-p50", "command-p99", "appends", "append-p99", "held-back"):
        expect(page.locator(f"#chart-{chart} svg path.line")).to_have_count(1, timeout=20_000)
    expect(page.locator("#operations-kpis")).to_contain_text("Command p99")
    for build in builds:
        lag = page.locator(f'#projection-lags [data-projection="{build}"]')
        expect(lag.locator("svg path.line")).to_have_count(1)
    checks = page.locator("#readiness-table tbody tr")
    expect(checks).to_have_count(len(ready["checks"]))
    expect(page.locator('#readiness-table tr[data-check="event_store"] .pill')).to_have_text("ok")
    streams = page.locator("#largest-streams tbody tr")
    expect(streams).to_have_count(len(sizes["largest_streams"]))
    expect(streams.first).to_contain_text(sizes["largest_streams"][0]["stream"])
    dashboard.screenshot("operations")
