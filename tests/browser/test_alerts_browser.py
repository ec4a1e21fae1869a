"""Alerts in Chromium: a terminal closes its session 40.00 short through the API; the
manager sees the count in the top bar and the alert on the alerts page, marks it seen,
and the count is gone."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal

import pytest
from django.core import mail
from playwright.sync_api import expect

from alerts.models import Alert
from cashdrawer.authentication import issue_device_token
from sessions_app import services
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url: str, secret: str, body: dict, key: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Token {secret}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    with urllib.request.urlopen(request, timeout=15) as answer:
        return json.loads(answer.read())


def test_a_large_shortage_closed_by_a_terminal_shows_up_for_the_manager(
    page, log_in, live_server, make_user, location, make_register
):
    location.discrepancy_threshold = Decimal("10.00")  # the default; the fixture's is lenient
    location.save()
    manager = make_user(
        "maria", location=location, role="manager", email="maria@example.com", first_name="Maria"
    )
    till = make_register(
        location,
        name="Till 1",
        code="till-1",
        default_float=Decimal("150.00"),
        count_method="total",
    )
    session = services.open_session(register=till, opening_float="150.00", by=manager)
    services.record_transaction(
        register=till, kind="sale", payment_method="cash", amount="60.00", by=manager
    )
    terminal = issue_device_token(register=till, by=manager, name="Till 1 terminal").secret

    closed = _post(
        f"{live_server.url}/api/v1/sessions/{session.pk}/close/",
        terminal,
        # Expected 210.00; 170.00 in the drawer: past the threshold, so confirmed with a note.
        {"counted_cash": "170.00", "confirm_discrepancy": True, "note": "Counted twice."},
        key="close-till-1",
    )
    assert closed["end_discrepancy"] == "-40.00"
    alert = Alert.objects.get(session=session)
    assert (alert.kind, alert.amount) == ("discrepancy", Decimal("-40.00"))
    assert [message.to for message in mail.outbox] == [["maria@example.com"]]

    log_in("maria")
    nav = page.locator(".mainnav")
    badge = nav.locator("[data-alerts-unseen]")
    expect(badge).to_have_text("1")
    nav.get_by_role("link", name="Alerts").click()
    expect(page.locator("h1")).to_have_text("Alerts")
    row = page.locator(f"tr.alert-row[data-alert='{alert.pk}']")
    expect(row).to_have_class("alert-row unseen")
    expect(row).to_contain_text("Till 1 closed €40.00 short")
    expect(row).to_contain_text("−€40.00")
    page.screenshot(path=SCREENSHOTS / "alerts-list-unseen.png", full_page=True)

    row.get_by_role("button", name="Mark seen").click()
    expect(page.locator("h1")).to_have_text("Alerts")
    expect(row).to_have_class("alert-row")
    expect(row).to_contain_text("seen")
    expect(badge).to_have_count(0)
    expect(page.get_by_role("button", name="Mark all seen")).to_have_count(0)

    row.get_by_role("link", name="Till 1 closed €40.00 short").click()
    expect(page).to_have_url(f"{live_server.url}/sessions/{session.pk}/")
