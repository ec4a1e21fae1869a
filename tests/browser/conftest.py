"""Browser tests: Playwright driving Debian's Chromium against a live server.

Each test leaves a full-page screenshot of where it ended in test-artifacts/screenshots/
(kept by CI as artifacts, named in the README), so a person can look at every page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses database calls
# from such a thread unless told that it is safe. It is: the loop only waits for the
# browser while the test itself runs synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "s3cret-pass"  # what tests/conftest.py's make_user gives everyone


@pytest.fixture(scope="session")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node_name).strip("-") + ".png"


@pytest.fixture(autouse=True)
def _denominations(shipped_denominations):
    """Every page that counts cash needs the shipped coins and notes."""


@pytest.fixture
def page(browser: Browser, live_server, request) -> Page:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The top bar is sticky: scrolled down, it would be drawn across the middle of a
    # full-page screenshot.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / _screenshot_name(request.node.name), full_page=True)
    context.close()


@pytest.fixture
def log_in(page: Page):
    def log_in(username: str, password: str = PASSWORD) -> Page:
        page.goto("/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        # Wait for the page the form leads to, not the login page still showing.
        with page.expect_navigation():
            page.click("button.primary[type=submit]")
        assert "/login/" not in page.url, f"{username} could not log in"
        return page

    return log_in
