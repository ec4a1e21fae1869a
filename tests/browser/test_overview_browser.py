"""The overview in Chromium: pick a location and range, sort, export what is shown."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from sessions_app.services import close_session, open_session, record_transaction
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def three_shifts(location, register, manager):
    """Three closed shifts this week at R: short 5.00, over 2.00, even."""
    now = timezone.now()
    for days_ago, counted in ((3, "195.00"), (2, "202.00"), (1, "200.00")):
        start = now - dt.timedelta(days=days_ago, hours=1)
        session = open_session(register=register, opening_float="150.00", by=manager, at=start)
        record_transaction(
            register=register,
            kind="sale",
            payment_method="cash",
            amount="50.00",
            occurred_at=start + dt.timedelta(minutes=10),
            received_at=start + dt.timedelta(minutes=10),
            by=manager,
        )
        close_session(
            session=session,
            counted=counted,
            retained_float="150.00",
            by=manager,
            at=start + dt.timedelta(minutes=30),
        )


def _rows(page) -> list[tuple[str, str]]:
    rows = page.locator("table.session-list tbody tr")
    return [
        (row.get_attribute("data-session"), row.locator("td.num").first.inner_text().strip())
        for row in rows.all()
    ]


def test_a_manager_sorts_the_session_list_and_exports_exactly_those_rows(
    page, log_in, manager, location, other_location, three_shifts
):
    other_location.memberships.create(user=manager, role="manager")
    log_in("maria")
    page.goto("/overview/")
    page.select_option("select[name=location]", str(location.pk))
    page.wait_for_url(f"**location={location.pk}**")
    page.select_option("select[name=range]", "last_7_days")
    page.wait_for_url("**range=last_7_days**")
    assert page.locator(".figure.short").first.is_visible()  # the week is 3.00 short

    page.get_by_role("link", name="Total discrepancy").click()
    page.wait_for_url("**ordering=**")
    shown = _rows(page)
    amounts = [text for _, text in shown]
    assert amounts == ["−€5.00", "€0.00", "+€2.00"], amounts
    page.get_by_role("link", name="Total discrepancy").click()
    page.wait_for_url("**ordering=-total_discrepancy**")
    assert [text for _, text in _rows(page)] == ["+€2.00", "€0.00", "−€5.00"]
    assert "▼" in page.locator("th[aria-sort=descending]").inner_text()
    shown = _rows(page)

    page.locator("#sessions summary").click()
    with page.expect_download() as download_info:
        page.locator("#sessions .menu a").first.click()
    exported = download_info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [row["id"] for row in rows] == [session_id for session_id, _ in shown]
    assert [Decimal(row["total_discrepancy"]) for row in rows] == [
        Decimal("2.00"),
        Decimal("0.00"),
        Decimal("-5.00"),
    ]
    assert {row["location"] for row in rows} == {location.name}


def test_a_manager_filters_the_session_list_sees_the_chip_and_removes_it(
    page, log_in, manager, location, three_shifts
):
    log_in("maria")
    page.goto(f"/overview/?location={location.pk}&range=last_7_days")
    assert len(_rows(page)) == 3

    page.locator("#filters summary").click()
    page.select_option("#filters select[name=discrepancy]", "short")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**discrepancy=short**")
    assert [text for _, text in _rows(page)] == ["−€5.00"]
    chips = page.locator("[data-active-filters] .chip")
    assert chips.count() == 1 and "Discrepancy: short" in chips.first.inner_text()
    # The overview is that of the short session alone.
    assert "−€5.00" in page.locator("#discrepancy-title").locator("..").locator("..").inner_text()

    # The filters in use, for a look at the page: the form open, the chip under it.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar, else drawn mid-page
    page.screenshot(path=SCREENSHOTS / "overview-filtered.png", full_page=True)

    # The CSV of the list carries the filter.
    page.locator("#sessions summary").click()
    with page.expect_download() as download_info:
        page.locator("#sessions .menu a").first.click()
    exported = download_info.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [Decimal(row["total_discrepancy"]) for row in rows] == [Decimal("-5.00")]

    page.get_by_role("link", name="Remove the filter Discrepancy: short").click()
    page.wait_for_url(lambda url: "discrepancy" not in url)
    assert len(_rows(page)) == 3
    assert page.locator("[data-active-filters]").count() == 0
