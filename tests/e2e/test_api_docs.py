"""`/docs` and `/redoc` render in Chromium with every request off this service refused.

One request does leave by design of ReDoc's bundle: its "API docs by Redocly" footer logo
(`REDOC_LOGO`), an image the bundle hides itself when it fails to load. Nothing needed to
render the documentation comes from elsewhere.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e.conftest import tab
from tests.orders.conftest import RunningService

REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("page_path", "rendered"),
    [
        ("docs", ".swagger-ui .info .title"),
        ("redoc", ".api-content h1"),
    ],
)
def test_the_api_docs_render_offline(
    browser: Browser,
    embedded_service: RunningService,
    page_path: str,
    rendered: str,
) -> None:
    elsewhere: list[str] = []

    def offline(route: Route) -> None:
        if route.request.url.startswith(embedded_service.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    with tab(browser, embedded_service, None) as docs:
        docs.allow_console_error(f"^{re.escape(REDOC_LOGO)}$")
        docs.page.route("**/*", offline)
        page = docs.open(page_path)
        # ReDoc lays out the whole schema before it shows anything: slow on a busy machine.
        expect(page.locator(rendered).first).to_contain_text("Orders", timeout=30_000)
        # The operations are listed: the schema was fetched and read.
        place = page.locator(".opblock-summary, h2").filter(has_text="Place an order")
        expect(place.first).to_be_visible()
        docs.screenshot(f"api-{page_path}")
    assert [url for url in elsewhere if url != REDOC_LOGO] == []
