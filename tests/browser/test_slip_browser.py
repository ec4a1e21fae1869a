"""The closing slip printed by Chromium: the session page's Print button leads to it, and
its PDF, read back with pypdf, carries the figures on one A4 page or an 80 mm roll.

Besides the fixture's screenshot of the screen, each test keeps the print look
(`emulate_media(media="print")`) of the paper it printed: slip-a4-*.png, slip-80mm-*.png.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from sessions_app import services
from tests import slip_scenarios as scenarios
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

MM = 72 / 25.4  # PDF points per millimetre
A4 = (210 * MM, 297 * MM)
RECEIPT = (80 * MM, 297 * MM)  # a length of roll paper, as receipt printer drivers offer


# The width inside the page margins of static/css/slip.css, in CSS pixels (96 per inch):
# a screenshot at that width in print media shows the lines break as on paper.
PRINTED_WIDTH_PX = {
    "a4": round((210 - 2 * 13) / 25.4 * 96),
    "80mm": round((80 - 2 * 3) / 25.4 * 96),
}


def _print(page, paper: str, name: str) -> PdfReader:
    """Print the slip on the page as Chromium does, with the slip's own @page size, and
    keep a screenshot of the print look."""
    viewport = page.viewport_size
    page.set_viewport_size({"width": PRINTED_WIDTH_PX[paper], "height": viewport["height"]})
    page.emulate_media(media="print")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"slip-{paper}-{name}.png", full_page=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    page.emulate_media(media="screen")
    page.set_viewport_size(viewport)
    return PdfReader(io.BytesIO(pdf))


def _text(reader: PdfReader) -> str:
    """The words of every page, in lower case: headings are printed in capitals."""
    text = " ".join(pdf_page.extract_text() for pdf_page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ")).casefold()


def _size(reader: PdfReader, number: int = 0) -> tuple[float, float]:
    box = reader.pages[number].mediabox
    return float(box.width), float(box.height)


def _is(actual: tuple[float, float], expected: tuple[float, float]) -> bool:
    return all(abs(a - e) < 1.5 for a, e in zip(actual, expected, strict=True))


def test_print_on_the_session_page_prints_the_slip_on_one_a4_page(page, log_in, manager, register):
    session = scenarios.worked_example(register, manager)
    # Record the print dialog instead of opening one (headless Chromium has none anyway).
    page.add_init_script("window.print = function () { window.__printed = true; };")
    log_in("maria")
    page.goto(f"/sessions/{session.pk}/")

    page.get_by_role("link", name="Print", exact=True).click()

    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/slip/$"))
    page.wait_for_function("window.__printed === true")
    expect(page.get_by_role("heading", name=re.compile("Closing slip"))).to_be_visible()
    reader = _print(page, "a4", "worked-example")
    assert len(reader.pages) == 1
    assert _is(_size(reader), A4)
    text = _text(reader)
    for figure in (
        "Amsterdam",
        f"Session #{session.pk}",
        "Opening float €150.00",
        "Cash €65.50 €5.50",
        "Card €80.00",
        "drawer over limit",
        "Expected cash €202.00",
        "Counted cash €200.00",
        "End discrepancy −€2.00",
        "Retained float €150.00",
        "Cash removed €50.00",
        "Counted by",
        "Checked by",
        "Closing no. 1",
        f"{session.closing_hash[:12]}…",
    ):
        assert figure.casefold() in text, figure

    # The toolbar's own Print button prints too, and is not on the paper.
    page.evaluate("window.__printed = false")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__printed") is True
    assert "80 mm receipt" not in text


def test_a_shared_close_with_corrections_fits_one_a4_page_and_an_80_mm_roll(
    page, log_in, manager, main_register, sub_a, sub_b
):
    shared = scenarios.shared_close(main_register, sub_a, sub_b, manager, busy=True)
    services.add_correction(
        session=shared.main, amount="-0.50", reason="coin from the day before", by=manager
    )
    services.add_correction(
        session=shared.main, amount="1.00", reason="tip jar counted in by mistake", by=manager
    )
    log_in("maria")
    page.goto(f"/sessions/{shared.main.pk}/slip/")

    a4 = _print(page, "a4", "shared-close")
    assert len(a4.pages) == 1
    assert _is(_size(a4), A4)

    page.get_by_role("link", name="80 mm receipt").click()
    page.wait_for_url(re.compile(r"\?paper=80mm$"))
    receipt = _print(page, "80mm", "shared-close")
    assert _is(_size(receipt), RECEIPT)
    assert len(receipt.pages) <= 2  # one length of the roll, or a little more

    for text in (_text(a4), _text(receipt)):
        for figure in (
            "Main C",
            "Sub A",
            "Sub B",
            "From sub-registers €412.00",
            "Expected cash €512.00",
            "€500.00 × 1 €500.00",
            "Counted cash €512.50",
            "End discrepancy +€0.50",
            "Cash removed €512.50",
            "Transferred to main €112.00",
            "Transferred to main €300.00",
            "Card €50.00",
            "flowers for the shop window",
            "−€15.00",
            "coin from the day before",
            "−€0.50",
            "Total discrepancy after corrections +€1.00",
            "Counted by",
            "Checked by",
            f"Closing no. {shared.main.closing_number}",
            f"{shared.main.closing_hash[:12]}…",
            f"{shared.sub_a.closing_hash[:12]}…",
        ):
            assert figure.casefold() in text, figure
