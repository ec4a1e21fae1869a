"""The register forms in Chromium where they used to be rough (issue 11): the open form of
a register that counts as a total follows the typed float live."""

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
