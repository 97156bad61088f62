"""Commands from the dashboard, in Chromium: shown at once as pending, reconciled when the
read model reaches the command's position, rolled back with the problem's message when
refused (422), in conflict (412: a stale version) or against a business rule (409).

The read model's answer (`GET /api/orders/{id}?min_position=…`) is held back by the test
while it looks at the pending state, then let through: no timing is guessed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.conftest import Dashboard, tab
from tests.orders.conftest import WRITER_KEY, RunningService

RECONCILE = re.compile(r"/api/orders/[0-9a-f]{16}\?min_position=")


@pytest.fixture
def writer(
    browser: Browser,
    embedded_service: RunningService,
) -> Iterator[Dashboard]:
    """The dashboard signed in with a writer key."""
    with tab(browser, embedded_service, WRITER_KEY) as opened:
        yield opened


class HeldBack:
    """Holds the read model's answers to the reconciling reads until `release()`."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.routes: list[Route] = []
        page.route(RECONCILE, self._hold)

    def _hold(self, route: Route) -> None:
        self.routes.append(route)  # neither continued nor fulfilled: the request waits

    def wait(self) -> None:
        """Until the page has asked (within the default timeout)."""
        for _ in range(200):
            if self.routes:
                return
            self.page.wait_for_timeout(50)
        raise AssertionError("the page never asked the read model for the command's position")

    def release(self) -> None:
        for route in self.routes:
            route.continue_()
        self.page.unroute(RECONCILE)


def order_of(service: RunningService, order_id: str) -> dict[str, object]:
    with service.client() as client:
        answer = client.get(f"/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def place_from_the_list(page: Page, customer: str, quantity: str = "2") -> None:
    page.get_by_role("button", name="New order").click()
    form = page.locator('form[data-command="place-order"]')
    for label, value in (
        ("Customer", customer),
        ("Product", "Pour-over kettle"),
        ("Quantity", quantity),
        ("Unit price", "41.50"),
        ("Street", "12 Rue Oberkampf"),
        ("Postcode", "75011"),
        ("City", "Paris"),
        ("Country", "FR"),
    ):
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name="Place order").click()


def test_a_new_order_and_a_new_item_show_at_once_pending_then_confirmed(writer: Dashboard) -> None:
    service, customer = writer.service, f"Colette Optimist {uuid.uuid4().hex[:6]}"
    page = writer.open("#/orders")
    expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
    held = HeldBack(page)
    place_from_the_list(page, customer)
    pending = page.locator("#orders-table tbody tr.pending")
    expect(pending).to_contain_text(customer)
    expect(pending).to_contain_text("Pending…")
    expect(pending).to_contain_text("83.00")
    expect(pending).to_have_attribute("data-order", re.compile(r"^[0-9a-f]{16}$"))  # accepted
    held.wait()
    order_id = pending.get_attribute("data-order") or ""
    writer.screenshot("command-pending-order")
    held.release()
    row = page.locator(f'#orders-table tbody tr[data-order="{order_id}"]')
    expect(row).to_contain_text(customer)
    expect(row).not_to_have_class(re.compile("pending"))
    expect(page.locator("#orders-table tbody tr.pending")).to_have_count(0)
    assert order_of(service, order_id)["customer"] == customer

    row.get_by_role("link", name=order_id).click()
    panel = page.locator("#order-panel")
    expect(panel).to_have_attribute("data-version", "1")
    held = HeldBack(page)
    add = page.locator('form[data-command="add-item"]')
    add.get_by_label("Product").fill("Paper filters")
    add.get_by_label("Quantity").fill("3")
    add.get_by_label("Unit price").fill("4.20")
    add.get_by_role("button", name="Add item").click()
    expect(panel).to_have_attribute("data-pending", "true")
    expect(panel.locator('tr[data-product="Paper filters"]')).to_contain_text("3")
    expect(panel.locator("[data-total]")).to_have_attribute("data-total", "95.60")
    expect(panel.locator(".pending-mark")).to_be_visible()
    held.wait()
    writer.screenshot("command-pending-item")
    held.release()
    expect(page.locator("#command-done")).to_have_text("Item added: saved as version 2.")
    # No stray "null" on the page (the raw JSON, closed, may show a field's null).
    assert "null" not in page.locator("main").inner_text()
    expect(page.locator("#version-label")).to_have_text("version 2 of 2")
    expect(panel).to_have_attribute("data-pending", "false")
    expect(panel.locator(".pending-mark")).to_be_hidden()
    expect(panel.locator('tr[data-product="Paper filters"]')).to_be_visible()
    assert order_of(service, order_id)["total"] == "95.60"


def test_a_refused_command_is_rolled_back_with_the_problem_s_message(writer: Dashboard) -> None:
    writer.allow_console_error(r"/api/orders(/[0-9a-f]{16}/add-item)?$")
    service, customer = writer.service, f"Rémi Refused {uuid.uuid4().hex[:6]}"
    page = writer.open("#/orders")
    expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
    place_from_the_list(page, customer, quantity="0")
    place = page.locator('form[data-command="place-order"]')
    expect(place.get_by_role("alert")).to_contain_text("Invalid command")
    expect(place.get_by_role("alert")).to_contain_text("quantity")
    expect(page.locator("#orders-table tbody tr.pending")).to_have_count(0)
    with service.client() as client:
        assert client.get("/api/orders", params={"q": customer}).json()["total"] == 0

    place.get_by_label("Quantity").fill("1")
    place.get_by_role("button", name="Place order").click()
    row = page.locator("#orders-table tbody tr[data-order]", has_text=customer)
    expect(row).not_to_have_class(re.compile("pending"))
    order_id = row.get_attribute("data-order") or ""
    page.goto(f"{service.url}/#/orders/{order_id}")
    panel = page.locator("#order-panel")
    expect(panel).to_have_attribute("data-version", "1")
    add = page.locator('form[data-command="add-item"]')
    add.get_by_label("Product").fill("Gold filter")
    add.get_by_label("Unit price").fill("12.345")
    add.get_by_role("button", name="Add item").click()
    expect(add.get_by_role("alert")).to_contain_text("Invalid command")
    expect(add.get_by_role("alert")).to_contain_text("unit_price")
    expect(panel).to_have_attribute("data-pending", "false")
    expect(panel.locator('tr[data-product="Gold filter"]')).to_have_count(0)
    expect(panel.locator("[data-total]")).to_have_attribute("data-total", "41.50")
    assert order_of(service, order_id)["version"] == 1


def test_conflicts_roll_back_a_stale_version_and_a_broken_rule(writer: Dashboard) -> None:
    writer.allow_console_error(r"/api/orders/[0-9a-f]{16}/(process-payment|ship)$")
    service = writer.service
    with service.client() as client:
        placed = client.post(
            "/api/orders",
            json={
                "customer": f"Kai Conflict {uuid.uuid4().hex[:6]}",
                "items": [{"product": "Grinder", "quantity": 1, "unit_price": "89.00"}],
                "shipping_address": {
                    "name": "Kai Conflict",
                    "street": "1 Main St",
                    "city": "Oslo",
                    "postcode": "0150",
                    "country": "NO",
                },
            },
            headers=service.writer,
        )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["order_id"]
    page = writer.open(f"#/orders/{order_id}")
    panel = page.locator("#order-panel")
    expect(panel).to_have_attribute("data-version", "1")

    # A business rule: an unpaid order cannot ship (409).
    ship = page.locator('form[data-command="ship"]')
    ship.get_by_role("button", name="Ship").click()
    expect(ship.get_by_role("alert")).to_contain_text("Business rule broken")
    expect(ship.get_by_role("alert")).to_contain_text("not paid")
    expect(panel.locator(".pill").first).to_have_text("placed")
    expect(panel).to_have_attribute("data-pending", "false")

    # Someone else changes the order meanwhile: paying the version shown is a 412.
    with service.client() as client:
        added = client.post(
            f"/api/orders/{order_id}/add-item",
            json={"product": "Scale", "quantity": 1, "unit_price": "30.00"},
            headers=service.writer,
        )
    assert added.status_code == 202, added.text
    pay = page.locator('form[data-command="pay"]')
    pay.get_by_label("Amount").fill("89.00")
    pay.get_by_role("button", name="Pay").click()
    expect(pay.get_by_role("alert")).to_contain_text("Precondition failed")
    expect(panel).to_have_attribute("data-pending", "false")
    expect(panel.locator(".pill").first).to_have_text("placed")
    expect(panel.locator("[data-paid]")).to_have_attribute("data-paid", "0.00")
    writer.screenshot("command-conflict")
    found = order_of(service, order_id)
    assert (found["status"], found["version"]) == ("placed", 2)
