"""Signing in to the dashboard: the link printed at start-up, the sign-in page, the feed's
token. Against the real embedded service, in Chromium."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import tab
from tests.orders.conftest import RunningService

LINK = re.compile(r"dashboard: (http://\S+/#/sign-in\?key=(\S+))")


def sign_in_link(service: RunningService) -> tuple[str, str]:
    found = LINK.search(service.log.read_text())
    assert found, "the service printed no sign-in link"
    return found.group(1), found.group(2)


def test_the_printed_link_signs_in_and_the_key_leaves_the_address_bar(
    browser: Browser, embedded_service: RunningService
) -> None:
    link, key = sign_in_link(embedded_service)
    with tab(browser, embedded_service, None) as dashboard:
        page = dashboard.open("")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        dashboard.screenshot("sign-in")
        page.goto(link)
        expect(page.locator("#key-role")).to_have_text("Signed in as operator")
        expect(page.locator("#orders-table tbody tr[data-order]")).to_have_count(25)
        assert page.url.endswith("/#/orders")
        assert key not in page.url
        # The live feed opened with a token (EventSource sends no key header).
        expect(page.locator("#feed-dot")).to_have_attribute("data-state", "live")
        # Another tab of the same browser is signed in too.
        other = page.context.new_page()
        other.goto(f"{embedded_service.url}/#/projections")
        listed = httpx.get(
            f"{embedded_service.url}/api/projections", headers=embedded_service.operator
        ).json()["items"]
        builds = [p for p in listed if p["state"] != "rebuilding"]  # one row per build
        expect(other.locator("#projections-table tbody tr[data-projection]")).to_have_count(
            len(builds)
        )
        expect(other.get_by_role("button", name="Rebuild").first).to_be_enabled()


def test_the_sign_in_page_takes_a_key_and_refuses_a_wrong_one(
    browser: Browser, embedded_service: RunningService
) -> None:
    with tab(browser, embedded_service, None) as dashboard:
        dashboard.allow_console_error(r"/api/whoami$")
        page = dashboard.open("#/analytics")
        form = page.locator("#sign-in")
        form.get_by_label("API key to sign in").fill("not-a-key")
        form.get_by_role("button", name="Sign in").click()
        expect(page.locator("#toast")).to_have_text("This key was not recognised")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        form.get_by_label("API key to sign in").fill(embedded_service.reader["X-API-Key"])
        form.get_by_role("button", name="Sign in").click()
        expect(page.locator("#key-role")).to_have_text("Signed in as reader")
        expect(page.get_by_role("heading", name="Analytics")).to_be_visible()
        page.get_by_role("link", name="Projections").click()
        # A reader is told the page is an operator's (and asks the API nothing it refuses).
        expect(page.locator("#needs-operator")).to_contain_text("sign in with an operator API key")
