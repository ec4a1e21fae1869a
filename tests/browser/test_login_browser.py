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
