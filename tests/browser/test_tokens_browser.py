"""The API tokens page in Chromium: a manager issues a device token with an expiry, copies
its secret, finds it in the list and revokes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cashdrawer.authentication import issue_device_token, issue_user_token, revoke_token
from cashdrawer.models import ApiToken
from tests.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def store_with_tokens(manager, cashier, accountant, register, make_register, location):
    """A store as it looks after a while: terminals in use, staff scripts, an old token."""
    back = make_register(location, name="Back office till", code="back")
    front = issue_device_token(register=register, by=manager, name="Front counter tablet").token
    ApiToken.objects.filter(pk=front.pk).update(
        last_used_at=timezone.now() - dt.timedelta(minutes=4)
    )
    issue_device_token(
        register=back,
        by=manager,
        name="Pop-up terminal",
        expires_at=timezone.now() + dt.timedelta(days=12),
    )
    script = issue_user_token(user=cashier, name="Stock sync").token
    ApiToken.objects.filter(pk=script.pk).update(
        last_used_at=timezone.now() - dt.timedelta(hours=3)
    )
    issue_user_token(user=accountant, name="Bookkeeping export")
    old = issue_device_token(register=back, by=manager, name="Old handheld").token
    revoke_token(token=old, by=manager)
    return back


def test_a_manager_issues_a_device_token_with_an_expiry_and_revokes_it(
    page, log_in, manager, register, store_with_tokens
):
    log_in(manager.username)
    page.locator(".mainnav").get_by_role("link", name="API tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    expect(page.get_by_text("1 revoked or expired hidden").first).to_be_visible()
    expect(page.locator("tr.token-row")).to_have_count(4)

    form = page.locator("form.issue-form")
    form.get_by_label("Register").select_option(label=register.name)
    form.get_by_label("Name").fill("Till R handheld")
    form.get_by_label("Expires").fill("2031-12-31T18:00")
    form.get_by_role("button", name="Issue token").click()

    box = page.locator(".secret-box")
    expect(box).to_contain_text("it will not be shown again")
    expect(box).to_contain_text("Till R handheld")
    expect(box).to_contain_text("31/12/2031 18:00")
    secret = box.locator("input.secret-value").input_value()
    assert secret.startswith("cdd_") and len(secret) > 40
    box.get_by_text("Example: how the terminal posts a sale").click()
    expect(box.locator("pre")).to_contain_text(f"Authorization: Token {secret}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "tokens-secret-shown-once.png", full_page=True)

    token = ApiToken.objects.get(name="Till R handheld")
    row = page.locator(f"#token-{register.location_id}-{token.pk}")
    expect(row).to_contain_text(f"{token.prefix}…")
    expect(row).to_contain_text("31/12/2031 18:00")
    expect(row).to_contain_text("never")  # not used yet
    expect(row.locator(".badge.token-active")).to_have_text("active")

    page.reload()
    expect(page.locator(".secret-box")).to_have_count(0)

    row.get_by_role("link", name="Revoke").click()
    expect(page.locator("h1")).to_contain_text(f"Revoke token {token.prefix}…")
    page.screenshot(path=SCREENSHOTS / "tokens-revoke-confirm.png", full_page=True)
    page.get_by_role("button", name="Revoke token").click()

    expect(page.locator(".message.success")).to_contain_text("Revoked")
    expect(page.locator(".message.success")).to_contain_text("Till R handheld")
    expect(page.locator(f"#token-{register.location_id}-{token.pk}")).to_have_count(0)
    expect(page.get_by_text("2 revoked or expired hidden").first).to_be_visible()
    assert ApiToken.objects.get(pk=token.pk).is_revoked

    page.get_by_role("link", name="Show them").click()
    ended = page.locator(f"#token-{register.location_id}-{token.pk}")
    expect(ended.locator(".badge.token-revoked")).to_have_text("revoked")
    expect(ended).to_contain_text("by Maria")
    page.screenshot(path=SCREENSHOTS / "tokens-revoked-and-expired-shown.png", full_page=True)
    page.get_by_role("link", name="Hide revoked and expired").click()
    expect(page.locator("tr.token-row")).to_have_count(4)


def test_a_manager_of_two_stores_picks_one_and_sees_a_past_expiry_refused(
    page, log_in, make_user, location, other_location, register, make_register
):
    boss = make_user("bea", location=location, role="manager", first_name="Bea")
    boss.memberships.create(location=other_location, role="manager")
    vienna = make_register(other_location, name="Kassa Wien", code="wien")
    issue_device_token(register=register, by=boss, name="Amsterdam terminal")
    issue_device_token(register=vienna, by=boss, name="Vienna terminal")
    log_in(boss.username)
    page.goto("/tokens/")
    expect(page.locator(".token-group h2")).to_have_text(["Amsterdam", "Vienna"])

    with page.expect_navigation():  # static/js/app.js submits the picker on change
        page.locator(".scope-bar select[name=location]").select_option(label="Vienna")
    assert f"location={other_location.pk}" in page.url
    expect(page.locator(".token-group h2")).to_have_text(["Vienna"])

    form = page.locator("form.issue-form")
    form.get_by_label("Register").select_option(label="Kassa Wien")
    form.get_by_label("Name").fill("Late terminal")
    form.get_by_label("Expires").fill("2020-01-01T12:00")
    form.get_by_role("button", name="Issue token").click()

    error = page.locator("form.issue-form .field-error")
    expect(error).to_have_text("Give a moment in the future.")
    expect(error).to_be_in_viewport()
    expect(page.locator(".secret-box")).to_have_count(0)
    assert not ApiToken.objects.filter(name="Late terminal").exists()
