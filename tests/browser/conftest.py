"""Browser tests: Playwright driving Debian's Chromium against a live server.

Each test leaves a full-page screenshot of where it ended in test-artifacts/screenshots/
(kept by CI as artifacts, named in the README), so a person can look at every page.

Every test also fails (an error at the `page` fixture's teardown) when a page it visited
broke the Content-Security-Policy (settings.SECURE_CSP: no inline script or style) or
threw an uncaught JavaScript error. A test that provokes a violation on purpose takes it
out of `browser_problems` (`take_csp_violations()`), or it fails too.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses database calls
# from such a thread unless told that it is safe. It is: the loop only waits for the
# browser while the test itself runs synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

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


# Runs in every page and frame before its own scripts: each CSP violation the browser
# reports as a `securitypolicyviolation` event is kept in window.__cspViolations and
# written to the console, where the `page` fixture collects it across navigations.
CSP_VIOLATION_RECORDER = """
(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    const violation = {
      directive: event.effectiveDirective || event.violatedDirective,
      blockedURI: event.blockedURI,
      sourceFile: event.sourceFile,
      lineNumber: event.lineNumber,
      columnNumber: event.columnNumber,
      sample: event.sample,
      documentURI: event.documentURI,
    };
    window.__cspViolations.push(violation);
    console.error("%s " + JSON.stringify(violation));
  }, true);
})();
"""
CSP_EVENT_PREFIX = "Content Security Policy violation event:"
CSP_VIOLATION_RECORDER = CSP_VIOLATION_RECORDER % CSP_EVENT_PREFIX


def _describe_event(violation: dict) -> str:
    where = violation.get("sourceFile") or violation.get("documentURI") or "?"
    return (
        f"{violation.get('directive')} blocked {violation.get('blockedURI') or '?'}"
        f" at {where}:{violation.get('lineNumber')}:{violation.get('columnNumber')}"
        + (f" (sample: {violation['sample']!r})" if violation.get("sample") else "")
        + f" on {violation.get('documentURI')}"
    )


@dataclass
class BrowserProblems:
    """What the pages of one test reported: CSP violations (Chromium's own console
    messages and the `securitypolicyviolation` events) and uncaught page errors."""

    csp_messages: list[str] = field(default_factory=list)  # Chromium's console errors
    csp_events: list[dict] = field(default_factory=list)  # securitypolicyviolation events
    page_errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = message.text
        if text.startswith(CSP_EVENT_PREFIX):
            event = json.loads(text.removeprefix(CSP_EVENT_PREFIX))
            if event not in self.csp_events:
                self.csp_events.append(event)
        elif "Content Security Policy" in text:
            location = message.location
            self.csp_messages.append(f"{text} [{location.get('url')}:{location.get('lineNumber')}]")

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}\n{error.stack or ''}".strip())

    def collect_from(self, page: Page) -> None:
        """The events still in the open page, in case a console message is not through."""
        if page.is_closed():
            return
        try:
            events = page.evaluate("window.__cspViolations || []")
        except Error:  # the page is navigating or gone: its console messages are in
            return
        for event in events:
            if event not in self.csp_events:
                self.csp_events.append(event)

    def take_csp_violations(self) -> list[str]:
        """Every CSP violation so far, described, and forgotten: for a test that causes
        violations on purpose (the detector's own test)."""
        taken = [*self.csp_messages, *(_describe_event(event) for event in self.csp_events)]
        self.csp_messages.clear()
        self.csp_events.clear()
        return taken

    def report(self) -> str:
        lines = []
        if self.csp_messages or self.csp_events:
            lines.append("The page broke the Content-Security-Policy (settings.SECURE_CSP):")
            lines += [f"  - event: {_describe_event(event)}" for event in self.csp_events]
            lines += [f"  - console: {message}" for message in self.csp_messages]
        if self.page_errors:
            lines.append("The page threw uncaught JavaScript errors:")
            lines += [f"  - {error}" for error in self.page_errors]
        return "\n".join(lines)


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def page(browser: Browser, live_server, request, browser_problems: BrowserProblems) -> Page:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},
        locale="en-GB",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_VIOLATION_RECORDER)

    def watch(new_page: Page) -> None:
        new_page.on("console", browser_problems.on_console)
        new_page.on("pageerror", browser_problems.on_page_error)

    # Every page of the context: the test's and any it opens (a popup, a new tab).
    context.on("page", watch)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The top bar is sticky: scrolled down, it would be drawn across the middle of a
    # full-page screenshot.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / _screenshot_name(request.node.name), full_page=True)
    for each in context.pages:
        browser_problems.collect_from(each)
    context.close()
    problems = browser_problems.report()
    if problems:
        pytest.fail(problems, pytrace=False)


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
