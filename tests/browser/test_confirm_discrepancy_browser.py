"""The second look before a large discrepancy, in Chromium: a count 733.65 short of the
expected cash brings the confirmation panel with the amount; it closes only with a note."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from sessions_app import services
from sessions_app.models import TrackingSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def till(location, make_register):
    location.discrepancy_threshold = Decimal("10.00")
    location.save()
    return make_register(location, name="Till", code="till", count_method="total")


def test_a_large_shortfall_is_confirmed_with_a_note_before_the_close(page, log_in, manager, till):
    session = services.open_session(register=till, opening_float="0.00", by=manager)
    services.record_transaction(
        register=till, kind="sale", payment_method="cash", amount="783.65", by=manager
    )
    log_in("maria")
    page.goto(f"/sessions/{session.pk}/close/")
    warning = page.locator("[data-threshold-note]")
    page.locator("input[name=counted]").fill("773.65")  # exactly the threshold: no warning
    expect(page.locator("[data-difference]")).to_have_text("−€10.00")
    expect(warning).to_be_hidden()
    page.locator("input[name=counted]").fill("50.00")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("€10.00")
    page.get_by_role("button", name="Close session").click()

    panel = page.locator("#confirm-discrepancy")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("€50.00")
    expect(panel).to_contain_text("€783.65")
    expect(panel).to_contain_text("€733.65 short")
    expect(panel).to_contain_text("€10.00")
    # What was typed is kept.
    expect(page.locator("input[name=counted]")).to_have_value("50.00")
    panel.screenshot(path=_artifact("confirm-discrepancy-panel.png"))

    panel.get_by_role("button", name="Confirm and close").click()
    expect(page.locator("#confirm-discrepancy")).to_contain_text(
        "Explain the difference in a note to confirm it."
    )
    assert TrackingSession.objects.get(pk=session.pk).is_open

    page.locator("#confirm-discrepancy textarea[name=note]").fill("The envelope went early.")
    page.locator("#confirm-discrepancy").get_by_role("button", name="Confirm and close").click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"))
    expect(page.locator(".message.success")).to_contain_text("€733.65 short")
    closed = TrackingSession.objects.get(pk=session.pk)
    assert closed.status == "closed" and closed.closing_note == "The envelope went early."
    assert closed.end_discrepancy == Decimal("-733.65")


def _artifact(name: str):
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
