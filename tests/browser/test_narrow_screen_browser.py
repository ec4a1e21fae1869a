"""The pages on a phone (issue 11): at 390 px the top bar used to make the page 481 px
wide, pushing Log out off the screen. Every section link and Log out stay on screen and
tappable; at 1280 px the top bar keeps its single row."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sessions_app import services

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SECTIONS = ("Now", "Overview", "Registers", "API tokens", "Admin")


@pytest.fixture
def store_day(location, manager, main_register, sub_a):
    """A staff manager (every link in the top bar), a closed main session and an open one."""
    manager.is_staff = True
    manager.save()
    main = services.open_session(register=main_register, opening_float="150.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="30.00", by=None
    )
    services.close_session(session=sub, by=manager)
    counts = [{"value": "50.00", "quantity": 3}, {"value": "20.00", "quantity": 1}]
    services.close_session(session=main, counts=counts, retained_float="150.00", by=manager)
    services.open_session(register=main_register, opening_float="150.00", by=manager)
    return main


PAGES = {
    "now": "/now/",
    "overview": "/overview/?location={location}&range=today",
    "registers": "/registers/?location={location}",
    "session": "/sessions/{session}/",
    "tokens": "/tokens/",
}


@pytest.mark.parametrize("name", PAGES)
def test_the_top_bar_fits_a_phone(page, log_in, location, store_day, name):
    page.set_viewport_size(PHONE)
    log_in("maria")

    path = PAGES[name].format(location=location.pk, session=store_day.pk)
    page.goto(path)

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} is {width} px wide at {PHONE['width']} px"
    for section in SECTIONS:
        link = page.locator(".mainnav").get_by_role("link", name=section, exact=True)
        expect(link).to_be_in_viewport(ratio=1)
        assert link.bounding_box()["height"] >= 32, f"{section} is too small to tap"
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_in_viewport(ratio=1)
    assert log_out.bounding_box()["height"] >= 28


def test_the_top_bar_keeps_one_row_on_a_laptop(page, log_in, location, store_day):
    log_in("maria")
    page.goto(f"/registers/?location={location.pk}")

    topbar = page.locator(".topbar").bounding_box()
    assert topbar["height"] == 56
    brand = page.locator(".topbar .brand").bounding_box()
    nav = page.locator(".mainnav").bounding_box()
    assert abs((nav["y"] + nav["height"] / 2) - (brand["y"] + brand["height"] / 2)) < 4
