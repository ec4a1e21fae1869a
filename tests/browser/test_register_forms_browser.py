"""The register forms in Chromium where they used to be rough (issue 11): the open form of
a register that counts as a total follows the typed float live, and a close sent again
shows the closed session instead of a form that looks open."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import TrackingSession

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_open_form_of_a_total_register_follows_the_typed_float(page, log_in, manager, register):
    # The last close left 120.00 in the drawer: the next float is checked against it.
    last = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=last, counted="150.00", retained_float="120.00", by=manager)
    log_in("maria")
    page.goto(f"/registers/{register.pk}/open/")
    summary = page.locator(".count-summary")
    expect(summary.locator("[data-count-total]")).to_have_text("€120.00")
    expect(summary.locator("[data-difference]")).to_have_text("€0.00")

    page.locator("input[name=opening_float]").fill("118.50")

    expect(summary.locator("[data-count-total]")).to_have_text("€118.50")
    expect(summary.locator("[data-difference]")).to_have_text("−€1.50")
    expect(summary.locator("[data-tone]")).to_have_class(re.compile(r"\bshort\b"))

    page.locator("input[name=opening_float]").fill("")
    expect(summary.locator("[data-count-total]")).to_have_text("—")
    page.locator("input[name=opening_float]").fill("125")
    expect(summary.locator("[data-difference]")).to_have_text("+€5.00")

    page.get_by_role("button", name="Open session").click()
    expect(page.locator(".message.success")).to_contain_text("+€5.00")
    opened = TrackingSession.objects.get(register=register, status="open")
    assert (opened.opening_float, opened.start_discrepancy) == (Decimal("125.00"), Decimal("5.00"))


def test_a_close_sent_again_shows_the_closed_session(page, log_in, manager, register):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    log_in("maria")
    page.goto(f"/sessions/{session.pk}/close/")
    page.locator("input[name=counted]").fill("149.00")
    page.get_by_role("button", name="Close session").click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"))

    # The back button brings the filled form back (or its page again); sending it again
    # must not look like a second close of an open session.
    page.go_back()
    send_again = page.get_by_role("button", name="Close session")
    if page.url.endswith("/close/") and send_again.count():
        send_again.click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"))
    expect(page.locator(".message.info")).to_have_text("This session is already closed.")
    expect(page.get_by_text("Open since")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("close", re.I))).to_have_count(0)
    session.refresh_from_db()
    assert (session.status, session.counted_cash) == ("closed", Decimal("149.00"))


def test_a_close_form_sent_after_the_session_closed_shows_the_closed_session(
    page, log_in, manager, register
):
    """The same without relying on the browser's history: the form is sent after the
    session was closed elsewhere (a second tab, the first submit)."""
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    log_in("maria")
    page.goto(f"/sessions/{session.pk}/close/")
    page.locator("input[name=counted]").fill("155.00")
    services.close_session(session=session, counted="149.00", by=manager)

    page.get_by_role("button", name="Close session").click()

    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"))
    expect(page.locator(".message.info")).to_have_text("This session is already closed.")
    session.refresh_from_db()
    assert session.counted_cash == Decimal("149.00")
