"""A store manager's day at the till in Chromium: open by denominations, put cash out,
count and close with the live total, see the discrepancy on the overview; and a shared
close of a main register with a sub-register."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from sessions_app.models import TrackingSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def till(location, make_register):
    return make_register(location, name="Till 1", code="till-1", default_float=Decimal("150.00"))


def _type_count(page, quantities: dict[str, int]) -> None:
    page.locator("[data-clear-count]").first.click()
    for face, quantity in quantities.items():
        page.get_by_label(face, exact=True).fill(str(quantity))


def test_a_manager_opens_adjusts_counts_and_closes_and_sees_the_discrepancy(
    page, log_in, manager, location, till
):
    log_in("maria")
    page.goto("/registers/")
    page.locator(f"#register-{till.pk}").get_by_role("link", name="Open session").click()
    _type_count(page, {"€50.00": 2, "€20.00": 2, "€10.00": 1})
    expect(page.locator("[data-count-total]").last).to_have_text("€150.00")
    page.get_by_role("button", name="Open session").click()
    expect(page.locator(".message.success")).to_be_visible()
    session = TrackingSession.objects.get(register=till)
    assert session.opening_float == Decimal("150.00")

    page.locator(f"#register-{till.pk}").get_by_role("link", name="Add adjustment").click()
    page.locator("input[name=direction][value=out]").check(force=True)
    page.get_by_label("Amount").fill("20")
    page.get_by_label("Reason").fill("Change for the bakery next door")
    page.get_by_role("button", name="Record adjustment").click()
    expect(page.locator(".message.success")).to_be_visible()

    page.locator(f"#register-{till.pk}").get_by_role("link", name="Count & close").click()
    _type_count(page, {"€50.00": 2, "€20.00": 1, "€5.00": 1})
    # The live total and the difference follow the typing before anything is sent.
    expect(page.locator("[data-count-total]").last).to_have_text("€125.00")
    expect(page.locator("[data-difference]")).to_have_text("−€5.00")
    page.get_by_role("button", name="Close session").click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/"))

    session.refresh_from_db()
    assert (session.status, session.expected_cash, session.counted_cash) == (
        "closed",
        Decimal("130.00"),
        Decimal("125.00"),
    )
    assert session.end_discrepancy == Decimal("-5.00")

    page.goto(f"/overview/?location={location.pk}&range=today")
    total = page.locator(".figure.short .value").first
    expect(total).to_have_text("−€5.00")


def test_a_shared_close_waits_for_the_sub_register_then_books_its_cash_at_the_main(
    page, log_in, manager, main_register, sub_a
):
    log_in("maria")
    page.goto("/registers/")

    # A sub-register cannot open before its main register.
    page.locator(f"#register-{sub_a.pk}").get_by_role("link", name="Open session").click()
    page.get_by_role("button", name="Open session").click()
    expect(page.locator(".form-error")).to_contain_text("main register")
    assert not TrackingSession.objects.filter(register=sub_a).exists()

    page.goto("/registers/")
    page.locator(f"#register-{main_register.pk}").get_by_role("link", name="Open session").click()
    _type_count(page, {"€50.00": 2})
    page.get_by_role("button", name="Open session").click()
    page.locator(f"#register-{sub_a.pk}").get_by_role("link", name="Open session").click()
    page.get_by_role("button", name="Open session").click()
    expect(page.locator(".message.success")).to_be_visible()

    sub_session = TrackingSession.objects.get(register=sub_a)
    from sessions_app.services import record_transaction

    record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="30.00", by=manager
    )

    # The main register's close is refused while Sub A is open, naming it.
    page.locator(f"#register-{main_register.pk}").get_by_role("link", name="Count & close").click()
    _type_count(page, {"€50.00": 2, "€20.00": 1, "€10.00": 1})
    page.get_by_role("button", name="Close session").click()
    expect(page.locator(".form-error")).to_contain_text("Sub A")
    main_session = TrackingSession.objects.get(register=main_register)
    assert main_session.status == "open"

    page.goto("/registers/")
    page.locator(f"#register-{sub_a.pk}").get_by_role("link", name="Close").click()
    page.get_by_role("button", name=re.compile("Close and transfer")).click()
    sub_session.refresh_from_db()
    assert sub_session.status == "closed"

    page.goto(f"/sessions/{main_session.pk}/close/")
    _type_count(page, {"€50.00": 2, "€20.00": 1, "€10.00": 1})
    expect(page.locator("[data-difference]")).to_have_text("€0.00")
    page.get_by_role("button", name="Close session").click()
    page.wait_for_url(re.compile(rf"/sessions/{main_session.pk}/"))
    main_session.refresh_from_db()
    assert (main_session.sub_register_cash, main_session.expected_cash) == (
        Decimal("30.00"),
        Decimal("130.00"),
    )
    assert main_session.end_discrepancy == Decimal("0.00")
    expect(page.get_by_text("Sub A").first).to_be_visible()
