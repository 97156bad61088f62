"""The Orders dashboard in a real browser, against the real service.

Each test leaves a screenshot of the pages it visits under test-output/screenshots/ and
fails if a page logged a console error or threw (see `dashboard` in conftest.py).
"""

from __future__ import annotations

import collections
import json
import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Dashboard
from tests.orders.conftest import SEED_ORDERS, RunningService

ADDRESS = {
    "name": "Ingrid Feedwatcher",
    "street": "3 Storgatan",
    "city": "Stockholm",
    "postcode": "11122",
    "country": "SE",
}


def get(service: RunningService, path: str, **params: Any) -> Any:
    with service.client(headers=service.operator) as client:
        answer = client.get(path, params=params)
        answer.raise_for_status()
        return answer.json()


def place_order(service: RunningService, customer: str) -> str:
    body = {
        "customer": customer,
        "items": [{"product": "Moka pot", "quantity": 1, "unit_price": "34.00"}],
        "shipping_address": {**ADDRESS, "name": customer},
        "currency": "EUR",
    }
    with service.client() as client:
        answer = client.post("/api/orders", json=body, headers=service.writer)
    assert answer.status_code == 202, answer.text
    order_id: str = answer.json()["order_id"]
    return order_id


def order_rows(page: Page) -> list[str]:
    rows = page.locator("#orders-table tbody tr[data-order]")
    return [row.get_attribute("data-order") or "" for row in rows.all()]


def shown_state(page: Page) -> Any:
    return json.loads(page.locator("#state-view").text_content() or "")


def an_order_with_history(service: RunningService) -> dict[str, Any]:
    """A shipped order with several versions, of a customer whose surname others share."""
    orders = get(service, "/api/orders", page_size=200)["items"]
    namesakes = collections.Counter(o["customer"].split()[-1] for o in orders)
    shipped = [
        o
        for o in orders
        if o["status"] == "shipped" and o["version"] >= 3 and o["customer"].split()[-1].isalpha()
    ]
    order: dict[str, Any] = max(shipped, key=lambda o: namesakes[o["customer"].split()[-1]])
    return order


def test_search_finds_a_customer_s_orders_and_opens_one(dashboard: Dashboard) -> None:
    service = dashboard.service
    order = an_order_with_history(service)
    order_id, versions = order["order_id"], order["version"]
    surname = order["customer"].split()[-1]
    total = get(service, "/api/orders", page_size=1)["total"]
    assert total >= SEED_ORDERS

    page = dashboard.open("#/orders")
    expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
    expect(page.locator("#orders-count")).to_have_text(
        f"{total:,} orders · page 1 of {-(-total // 25):,}"
    )
    dashboard.screenshot("orders")

    search = page.get_by_role("searchbox", name="Search orders")
    search.fill(surname)
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"#/orders\?q="))
    expect(page.locator(f'#orders-table tr[data-order="{order_id}"]')).to_be_visible()
    expected = get(service, "/api/orders", q=surname)
    assert len(expected["items"]) > 1
    assert order_rows(page) == [o["order_id"] for o in expected["items"]]
    expect(page.locator("#orders-count")).to_contain_text(f"{expected['total']} matches")
    for row in page.locator("#orders-table tbody tr[data-order]").all():
        expect(row.locator("mark").first).to_have_text(re.compile(surname, re.IGNORECASE))
    dashboard.screenshot("orders-search")

    search.fill("qwxzv")
    search.press("Enter")
    expect(page.locator("#orders-table tbody")).to_have_text("No orders match “qwxzv”")
    expect(page.locator("#orders-count")).to_have_text("0 matches · page 1 of 1")
    page.go_back()
    expect(search).to_have_value(surname)

    page.locator(f'#orders-table tr[data-order="{order_id}"] a').click()
    expect(page).to_have_url(re.compile(f"#/orders/{order_id}$"))
    expect(page.locator("#version-label")).to_have_text(f"version {versions} of {versions}")
    expect(page.locator("#timeline > li")).to_have_count(versions)
    expect(page.locator("#state-view")).to_have_attribute("data-version", str(versions))
    assert shown_state(page) == get(service, f"/api/orders/{order_id}/state")["state"]
    expect(page.locator("#order-kpis .pill")).to_have_text("shipped")
    dashboard.screenshot("order")

    page.get_by_role("link", name="← Orders").click()
    expect(page).to_have_url(re.compile(r"#/orders\?q="))
    expect(search).to_have_value(surname)
    expect(page.locator(f'#orders-table tr[data-order="{order_id}"]')).to_be_visible()


def test_the_slider_travels_through_an_order_s_versions(dashboard: Dashboard) -> None:
    service = dashboard.service
    order = an_order_with_history(service)
    order_id, versions = order["order_id"], order["version"]

    def state_at(version: int) -> Any:
        return get(service, f"/api/orders/{order_id}/state", version=version)["state"]

    page = dashboard.open(f"#/orders/{order_id}")
    label = page.locator("#version-label")
    view = page.locator("#state-view")
    expect(view).to_have_attribute("data-version", str(versions))
    assert shown_state(page) == state_at(versions)

    slider = page.locator("#version-slider")
    slider.focus()
    page.keyboard.press("Home")
    expect(label).to_have_text(f"version 1 of {versions}")
    expect(view).to_have_attribute("data-version", "1")
    assert shown_state(page) == state_at(1)
    assert shown_state(page)["status"] == "placed"
    expect(page.locator("#timeline > li.future")).to_have_count(versions - 1)
    expect(page.locator("#timeline > li.current")).to_have_attribute("data-version", "1")
    expect(page.locator("#order-kpis .pill")).to_have_text("placed")
    dashboard.screenshot("order-version-1")

    page.keyboard.press("ArrowRight")
    expect(label).to_have_text(f"version 2 of {versions}")
    expect(view).to_have_attribute("data-version", "2")
    assert shown_state(page) == state_at(2)
    expect(page.locator("#timeline > li.future")).to_have_count(versions - 2)
    expect(page.locator("#timeline > li.current")).to_have_attribute("data-version", "2")
    # The readable panel marks what the second event changed; the raw JSON is one click away.
    expect(page.locator("#order-panel .changed").first).to_be_visible()
    expect(view).to_be_hidden()
    page.get_by_text("Raw JSON").click()
    expect(view.locator(".changed").first).to_be_visible()

    page.locator("#timeline > li").last.get_by_role("button").click()
    expect(slider).to_have_value(str(versions))
    expect(view).to_have_attribute("data-version", str(versions))
    assert shown_state(page) == state_at(versions)
    expect(page.locator("#timeline > li.future")).to_have_count(0)
    expect(page.locator("#order-kpis .pill")).to_have_text("shipped")


def test_a_new_order_appears_live_in_the_list_and_the_feed(dashboard: Dashboard) -> None:
    service = dashboard.service
    total = get(service, "/api/orders", page_size=1)["total"]
    page = dashboard.open("#/orders")
    expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
    expect(page.locator("#feed-dot")).to_have_attribute("data-state", "live")
    badge = page.locator("#feed-badge")
    expect(badge).to_be_hidden()  # the recent events the feed replays are not news

    first = place_order(service, f"Ingrid Feedwatcher {uuid.uuid4().hex[:6]}")
    rows = page.locator("#orders-table tbody tr[data-order]")
    expect(rows.first).to_have_attribute("data-order", first)  # without a reload
    expect(badge).to_have_text("1")

    page.get_by_role("link", name="Live feed").click()
    expect(page).to_have_url(re.compile("#/feed$"))
    expect(badge).to_be_hidden()
    expect(page.locator("[data-feed-status]")).to_have_text("Connected")
    feed = page.locator("#feed-list > li")
    expect(feed.first).to_have_attribute("data-stream", f"order-{first}")

    customer = f"Oskar Feedwatcher {uuid.uuid4().hex[:6]}"
    second = place_order(service, customer)
    expect(feed.first).to_have_attribute("data-stream", f"order-{second}")
    expect(feed.first).to_contain_text("OrderPlaced")
    expect(feed.nth(1)).to_have_attribute("data-stream", f"order-{first}")
    assert page.locator(f'#feed-list > li[data-stream="order-{second}"]').count() == 1
    dashboard.screenshot("feed")

    feed.first.get_by_role("link", name=second).click()
    expect(page).to_have_url(re.compile(f"#/orders/{second}$"))
    expect(page.locator("#order-kpis")).to_contain_text(customer)
    expect(page.locator("#version-label")).to_have_text("version 1 of 1")
    notice = page.locator("#order-changed")
    expect(notice).to_be_hidden()
    with service.client() as client:
        paid = client.post(
            f"/api/orders/{second}/process-payment",
            json={"amount": "34.00"},
            headers=service.writer,
        )
    assert paid.status_code == 202, paid.text
    expect(notice).to_contain_text("PaymentProcessed made version 2")
    expect(page.locator("#version-label")).to_have_text("version 1 of 1")  # not moved under you
    notice.get_by_role("button", name="Show the latest").click()
    expect(page.locator("#version-label")).to_have_text("version 2 of 2")
    expect(page.locator("#order-kpis .pill")).to_have_text("paid")

    page.get_by_role("link", name="Orders", exact=True).click()
    expect(rows.nth(0)).to_have_attribute("data-order", second)
    expect(rows.nth(1)).to_have_attribute("data-order", first)
    expect(rows.nth(0)).to_contain_text(customer)
    expect(page.locator("#orders-count")).to_contain_text(f"{total + 2:,} orders")


def test_analytics_store_and_projections_pages(dashboard: Dashboard) -> None:
    service = dashboard.service
    summary = get(service, "/api/analytics/summary")
    products = get(service, "/api/analytics/products", limit=10)["items"]

    page = dashboard.open("#/analytics")
    expect(page.locator("#chart-revenue svg path.line")).to_have_count(1)
    expect(page.locator("#chart-revenue svg circle").first).to_be_visible()
    expect(page.locator("#chart-orders svg rect.bar").first).to_be_visible()
    expect(page.locator("#chart-products svg rect.bar")).to_have_count(len(products))
    expect(page.locator("#chart-products svg")).to_contain_text(products[0]["product"])
    expect(page.locator("#analytics-kpis")).to_contain_text(f"Orders{summary['orders']:,}")
    dashboard.screenshot("analytics")

    page.get_by_role("link", name="Event store").click()
    store = get(service, "/api/store/summary")
    expect(page.locator("#store-kpis")).to_contain_text(f"Streams{store['streams']:,}")
    expect(page.locator("#chart-types svg rect.bar")).to_have_count(len(store["by_type"]))
    expect(page.locator("#recent-events tbody tr")).to_have_count(25)
    expect(page.locator("#streams-table tbody tr")).to_have_count(10)
    pages = -(-store["streams"] // 10)
    expect(page.get_by_text(f"page 1 of {pages}")).to_be_visible()
    dashboard.screenshot("store")
    page.get_by_role("button", name="Next page").click()
    expect(page).to_have_url(re.compile(r"#/store\?page=2$"))
    expect(page.get_by_text(f"page 2 of {pages}")).to_be_visible()
    biggest = get(service, "/api/store/streams", page=2, page_size=10)["items"][0]["stream"]
    expect(page.locator("#streams-table tbody tr").first).to_contain_text(biggest)

    # Projections are an operator's: the reader signed in so far switches keys.
    page.get_by_label("API key").fill(service.operator["X-API-Key"])
    page.get_by_label("API key").press("Enter")
    expect(page.locator("#key-role")).to_have_text("Signed in as operator")
    page.get_by_role("link", name="Projections").click()
    names = [p["name"] for p in get(service, "/api/projections")["items"]]
    table = page.locator("#projections-table tbody tr[data-projection]")
    expect(table).to_have_count(len(names))
    for name in names:
        row = page.locator(f'#projections-table tr[data-projection="{name}"]')
        expect(row.locator(".pill")).to_have_text("live")
        expect(row.get_by_role("button", name="Rebuild")).to_be_enabled()
    dashboard.screenshot("projections")

    rebuild = page.locator('#projections-table tr[data-projection="store_stats"]')
    rebuild.get_by_role("button", name="Rebuild").click()
    page.get_by_role("dialog").get_by_role("button", name="Rebuild store_stats").click()
    started = re.compile(r"^Rebuilding store_stats: v\d+ beside v\d+$")
    expect(page.locator("#toast")).to_have_text(started)


def test_missing_pages_and_orders_say_so(dashboard: Dashboard) -> None:
    dashboard.allow_console_error(r"/api/orders/no-such-order/events$")
    page = dashboard.open("#/orders/no-such-order")
    expect(page.locator("#order-missing")).to_have_text("There is no order no-such-order.")
    page.get_by_role("link", name="← Orders").click()
    expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
    dashboard.open("#/nowhere")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    with dashboard.service.client() as client:
        assert client.get("/api/orders/no-such-order/events").status_code == 404
