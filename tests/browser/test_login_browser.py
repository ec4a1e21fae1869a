"""Logging in and switching the language, in Chromium."""

from __future__ import annotations

import pytest

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
    page.select_option("#language-select", "de")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("button", name="Abmelden").is_visible()
