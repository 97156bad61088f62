"""A real Chromium driving the Orders dashboard of a real service.

The service is `embedded_service` of tests/orders (SQLite, seeded). The browser is
Debian's Chromium (`EVENTBOOK_TEST_CHROMIUM` names another), started once per session;
each test gets a fresh browser context, signed in with the reader key, and fails if the
page logged a console error or threw an uncaught error.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from tests.orders.conftest import READER_KEY, RunningService, embedded_service  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("EVENTBOOK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

expect.set_options(timeout=10_000)


# Module scope: Playwright's sync API keeps an event loop running in this thread while it
# is open, which would break every asyncio test that runs after it in the same session.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set EVENTBOOK_TEST_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Dashboard:
    """One browser tab on the dashboard, and what went wrong in it."""

    page: Page
    service: RunningService
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def open(self, route: str) -> Page:
        self.page.goto(f"{self.service.url}/{route}")
        return self.page

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        # A full page of a long document (ReDoc's) takes a while on a busy machine; the
        # picture is a record for people, not the assertion.
        self.page.screenshot(path=path, full_page=True, timeout=60_000)
        return path

    def allow_console_error(self, url_pattern: str) -> None:
        """Expect a failed request to a URL matching `url_pattern` (the browser logs those)."""
        self.allowed.append(re.compile(url_pattern))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if any(pattern.search(url) for pattern in self.allowed):
            return
        self.problems.append(f"console error at {url}: {message.text}")

    def _page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught error: {error.message}\n{error.stack}")


@contextlib.contextmanager
def tab(browser: Browser, service: RunningService, key: str | None) -> Iterator[Dashboard]:
    """A fresh browser context with one page, signed in with `key` (None: signed out)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    if key is not None:  # as the sign-in link or page leaves it (test_sign_in.py drives them)
        context.add_init_script(f"localStorage.setItem('eventbook-api-key', {key!r})")
    page = context.new_page()
    opened = Dashboard(page, service)
    page.on("console", opened._console)
    page.on("pageerror", opened._page_error)
    try:
        yield opened
    finally:
        context.close()
    if opened.problems:
        pytest.fail("the dashboard logged errors:\n" + "\n".join(opened.problems))


@pytest.fixture
def dashboard(
    browser: Browser,
    embedded_service: RunningService,  # noqa: F811
) -> Iterator[Dashboard]:
    """The dashboard signed in with the reader key."""
    with tab(browser, embedded_service, READER_KEY) as opened:
        yield opened
