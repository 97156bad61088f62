"""The dashboard at 420 px wide, in Chromium: no page scrolls sideways, and whatever is
wider than the screen (a table) scrolls within its own container."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import tab
from tests.orders.conftest import OPERATOR_KEY, RunningService

WIDTH = 420

# Elements sticking out past the viewport's right edge that no scrolling container of
# their own holds (a table inside `.table-wrap { overflow-x: auto }` is fine), and text
# shortened with an ellipsis.
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      const inside = up.getBoundingClientRect().right <= width + 1;
      if ((overflow === "auto" || overflow === "scroll") && inside) return true;
    }
    return false;
  };
  const out = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    if (!box.width || getComputedStyle(el).visibility === "hidden") return false;
    return box.right > width + 1 && !scrolls(el);
  });
  // Text cut short with an ellipsis is cut off too.
  const clipped = [...document.querySelectorAll("body *")].filter((el) =>
    getComputedStyle(el).textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1);
  out.push(...clipped);
  return {
    documentScrolls: document.documentElement.scrollWidth > width,
    cutOff: out.slice(0, 5).map((el) => {
      const right = Math.round(el.getBoundingClientRect().right);
      const where = `${el.tagName.toLowerCase()}.${el.className} in .${el.parentElement.className}`;
      return `${where}: ${el.textContent.slice(0, 40)} (right edge ${right})`;
    }),
  };
}"""


def check(page: Any, what: str) -> None:
    found = page.evaluate(CUT_OFF)
    assert found == {"documentScrolls": False, "cutOff": []}, f"{what}: {found}"


def test_every_page_fits_420_px(browser: Browser, embedded_service: RunningService) -> None:
    service = embedded_service
    with service.client() as client:
        newest = client.get("/api/orders", params={"page_size": 1}).json()["items"][0]
    with tab(browser, service, OPERATOR_KEY) as dashboard:
        page = dashboard.page
        page.set_viewport_size({"width": WIDTH, "height": 900})
        dashboard.open("#/orders")
        expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
        check(page, "orders")
        wrap = page.locator("#orders-table").locator("xpath=..")
        # The table is wider than the screen: it scrolls inside its own container.
        assert wrap.evaluate("(el) => el.scrollWidth > el.clientWidth")
        wrap.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
        expect(page.locator("#orders-table th").last).to_be_in_viewport()
        page.get_by_role("button", name="New order").click()
        expect(page.locator('form[data-command="place-order"]')).to_be_visible()
        check(page, "orders with the new order form")
        dashboard.screenshot("narrow-orders")

        dashboard.open(f"#/orders/{newest['order_id']}")
        expect(page.locator("#order-panel")).to_have_attribute(
            "data-version", str(newest["version"])
        )
        check(page, "an order")
        page.get_by_text("Raw JSON").click()
        expect(page.locator("#state-view")).to_be_visible()
        check(page, "an order with its raw JSON")
        dashboard.screenshot("narrow-order")

        for route, ready in (
            ("#/analytics", "#chart-revenue svg"),
            ("#/feed", "#feed-list"),
            ("#/store", "#recent-events tbody tr"),
            ("#/projections", "#projections-table tbody tr[data-projection]"),
            ("#/operations", "main h1"),
        ):
            dashboard.open(route)
            expect(page.locator(ready).first).to_be_attached()
            check(page, route)
        dashboard.screenshot("narrow-projections")
