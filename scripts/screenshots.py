"""The README's screenshots, taken from a running demo (scripts/screenshots starts one).

Usage: screenshots.py BASE_URL FOLDER
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1366, "height": 900}


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "cashdrawer")
    page.click("form button[type=submit].primary")
    page.wait_for_load_state("networkidle")


def location_id(page: Page, base: str, name: str) -> str:
    page.goto(f"{base}/overview/")
    options = page.locator("select[name=location] option").all()
    for option in options:
        if name in option.inner_text():
            return option.get_attribute("value")
    raise SystemExit(f"No location named {name} in the picker")


def shoot(page: Page, path: Path, *, full_page: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path}")


def main(base: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        for language in ("en", "nl"):
            context = browser.new_context(viewport=VIEWPORT, locale=language)
            page = context.new_page()
            log_in(page, base, "manager")
            suffix = "" if language == "en" else f"-{language}"

            page.goto(f"{base}/now/")
            shoot(page, folder / f"now{suffix}.png")
            if language != "en":
                context.close()
                continue

            page.goto(f"{base}/alerts/")
            shoot(page, folder / "alerts.png", full_page=False)

            amsterdam = location_id(page, base, "Amsterdam")
            page.goto(f"{base}/overview/?location={amsterdam}")
            shoot(page, folder / "overview.png", full_page=False)
            page.goto(f"{base}/overview/?location={amsterdam}&discrepancy=short&counted=true")
            shoot(page, folder / "overview-filtered.png")
            context.close()
        browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or not re.match(r"https?://", sys.argv[1]):
        raise SystemExit(__doc__)
    main(sys.argv[1].rstrip("/"), Path(sys.argv[2]))
