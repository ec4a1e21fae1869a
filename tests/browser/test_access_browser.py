"""Who sees what, in Chromium: accountants read but do not operate; another location's
pages do not exist for a manager."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sessions_app.services import open_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_accountant_sees_the_overviews_but_no_register_operations(
    page, log_in, accountant, location, register
):
    log_in(accountant.username)
    assert "/overview/" in page.url
    expect(page.locator("h1")).to_contain_text("Cash tracking")
    expect(page.locator(".mainnav").get_by_role("link", name="Registers")).to_have_count(0)
    response = page.goto("/registers/")
    assert response.status == 403
    response = page.goto(f"/registers/{register.pk}/open/")
    assert response.status == 403


def test_a_manager_of_one_location_gets_404_for_the_other(
    page, log_in, manager, location, other_location, make_register, make_user
):
    elsewhere = make_register(other_location, name="Kasse 9", code="k9")
    other_manager = make_user("otto", location=other_location, role="manager")
    foreign = open_session(register=elsewhere, opening_float="100.00", by=other_manager)
    log_in("maria")
    for path in (
        f"/overview/?location={other_location.pk}",
        f"/sessions/{foreign.pk}/",
        f"/sessions/{foreign.pk}/close/",
        f"/registers/{elsewhere.pk}/open/",
        f"/registers/?location={other_location.pk}",
    ):
        response = page.goto(path)
        assert response.status == 404, path
    expect(page.locator("h1")).to_contain_text("Nothing here")
