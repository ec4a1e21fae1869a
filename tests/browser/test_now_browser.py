"""The Now page in Chromium: it refreshes its board by itself when a terminal posts a sale,
says so when a refresh fails, and fits a phone. The page fixture fails a test on any CSP
violation or JavaScript error."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from cashdrawer.models import Location, Membership
from sessions_app import services, views

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}


@pytest.fixture
def two_stores(location, manager, main_register, sub_a, sub_b, register, make_register):
    """Amsterdam: a main register with two subs (one open), a standalone register closed
    three times (short, even, over) and open again; Rotterdam: a blind register, open."""
    opened = dt.datetime.now(dt.UTC) - dt.timedelta(days=4)
    for day, counted in enumerate(["168.00", "170.00", "171.50"]):
        at = opened + dt.timedelta(days=day)
        session = services.open_session(
            register=register, opening_float="150.00", by=manager, at=at
        )
        services.record_transaction(
            register=register,
            kind="sale",
            payment_method="cash",
            amount="20.00",
            occurred_at=at + dt.timedelta(hours=1),
            received_at=at + dt.timedelta(hours=1),
            by=manager,
        )
        services.close_session(
            session=session,
            counted=counted,
            retained_float="150.00",
            by=manager,
            at=at + dt.timedelta(hours=8),
        )
    services.open_session(register=main_register, opening_float="100.00", by=manager)
    services.open_session(register=sub_a, opening_float="0.00", by=manager)
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="12.50", by=None
    )
    rotterdam = Location.objects.create(
        name="Rotterdam", currency="EUR", timezone="Europe/Amsterdam"
    )
    Membership.objects.create(user=manager, location=rotterdam, role="manager")
    blind = make_register(rotterdam, name="Front till", blind_close=True, count_method="total")
    services.open_session(register=blind, opening_float="200.00", by=manager)
    return {"register": register, "sub_a": sub_a, "blind": blind}


def _row(page, register):
    return page.locator(f"#now-register-{register.pk}")


def test_the_board_refreshes_itself_when_a_terminal_posts_a_sale(
    page, log_in, manager, two_stores, monkeypatch
):
    monkeypatch.setattr(views, "NOW_REFRESH_SECONDS", 1)
    page.set_viewport_size(LAPTOP)
    log_in("maria")
    assert page.url.endswith("/now/")  # a manager lands on Now
    register = two_stores["register"]
    services.open_session(register=register, opening_float="150.00", by=manager)
    page.reload()
    row = _row(page, register)
    expect(row.locator("[data-expected-cash]")).to_have_text("€150.00")
    expect(row.locator("[data-cash-sales-today]")).to_have_text("€0.00")
    expect(row.locator("svg.sparkline rect.spark-bar")).to_have_count(3)
    page.screenshot(path=_artifact("now-1366-before.png"), full_page=True)

    # A terminal posts a sale while the page stays open: no reload, the board follows.
    with page.expect_request(lambda r: "fragment=1" in r.url) as asked:
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount="42.00", by=None
        )
        expect(row.locator("[data-expected-cash]")).to_have_text("€192.00")
    assert asked.value.headers.get("x-auto-refresh") == "1"
    expect(row.locator("[data-cash-sales-today]")).to_have_text("€42.00")
    expect(page.locator(f"#store-{register.location_id} [data-store-cash-sales]")).to_have_text(
        "€54.50"
    )
    expect(page.locator("[data-now-error]")).to_be_hidden()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_a_failed_refresh_shows_a_note_and_keeps_the_figures(page, log_in, two_stores):
    log_in("maria")
    row = _row(page, two_stores["sub_a"])
    expect(row.locator("[data-expected-cash]")).to_have_text("€12.50")
    page.route("**/now/?fragment=1", lambda route: route.abort())
    page.locator("[data-now-board]").dispatch_event("now:refresh")
    expect(page.locator("[data-now-error]")).to_be_visible()
    expect(row.locator("[data-expected-cash]")).to_have_text("€12.50")

    page.unroute("**/now/?fragment=1")
    page.locator("[data-now-board]").dispatch_event("now:refresh")
    expect(page.locator("[data-now-error]")).to_be_hidden()


def test_after_logging_out_elsewhere_the_page_says_the_login_ended(page, log_in, two_stores):
    log_in("maria")
    page.context.clear_cookies()
    page.locator("[data-now-board]").dispatch_event("now:refresh")
    expect(page.locator("[data-now-ended]")).to_be_visible()
    expect(page.locator("[data-now-board] .now-store")).to_have_count(2)  # left as it was


def test_the_now_page_fits_a_phone(page, log_in, two_stores):
    page.set_viewport_size(PHONE)
    log_in("maria")
    expect(_row(page, two_stores["blind"])).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"/now/ is {width} px wide at {PHONE['width']} px"
    now_link = page.locator(".mainnav").get_by_role("link", name="Now", exact=True)
    expect(now_link).to_be_in_viewport(ratio=1)


def _artifact(name: str):
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
