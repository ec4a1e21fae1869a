"""Logging in and switching the language, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_wrong_password_is_explained_on_the_form(page, manager):
    page.goto("/login/")
    page.fill("input[name=username]", "maria")
    page.fill("input[name=password]", "not-it")
    page.click("button.primary[type=submit]")
    assert page.locator(".form-error").is_visible()
    assert "/login/" in page.url


def test_the_interface_speaks_german_when_chosen(page, log_in, manager):
    log_in("maria")
    # Choosing submits the form at once; wait for that page, not the current one.
    with page.expect_navigation():
        page.select_option("#language-select", "de")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("button", name="Abmelden")).to_be_visible()


def test_ten_wrong_passwords_lock_the_username_out_with_a_clear_message(page, manager):
    """After ten failures the right password is refused too, for 15 minutes, and the form
    says so (in the page's language) instead of "wrong password"."""
    for attempt in range(10):
        page.goto("/login/")
        page.fill("input[name=username]", "maria")
        page.fill("input[name=password]", f"guess-{attempt}")
        page.click("button.primary[type=submit]")
    page.fill("input[name=password]", "s3cret-pass")
    with page.expect_navigation():
        page.click("button.primary[type=submit]")
    error = page.locator(".form-error")
    expect(error).to_contain_text("Too many failed logins")
    expect(error).to_contain_text("15 minutes")
    assert "/login/" in page.url
    expect(page.locator("input[name=username]")).to_have_value("maria")
