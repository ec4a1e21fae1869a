"""The API tokens page: a manager sees every token of their stores, revokes them and issues
device tokens whose secret is shown once.

The rules of issuing and revoking are the services' (tests/api/test_auth.py); these tests
prove the page shows the right tokens to the right people and hands the services the
right input.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cashdrawer.authentication import issue_device_token, issue_user_token, revoke_token
from cashdrawer.models import ApiToken, AuditEntry

pytestmark = pytest.mark.django_db

URL = "/tokens/"
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


def _api_status(secret: str) -> int:
    """What the API answers this secret, from a client without a session cookie."""
    return Client().get("/api/v1/sessions/", HTTP_AUTHORIZATION=f"Token {secret}").status_code


def _revoke_url(token: ApiToken) -> str:
    return reverse("token-revoke", args=[token.pk])


def _fresh(token: ApiToken) -> ApiToken:
    return ApiToken.objects.get(pk=token.pk)


def _issue_form(register, /, **changes) -> dict:
    return {"register": register.pk, "name": "Till 1 tablet", "expires_at": "", **changes}


def _secret_in(html: str) -> list[str]:
    return re.findall(r"cdd_[A-Za-z0-9_-]{40,}", html)


@pytest.fixture
def as_manager(client, manager) -> Client:
    client.force_login(manager)
    return client


@pytest.fixture
def vienna_register(other_location, make_register):
    return make_register(other_location, name="Vienna till", code="vt")


# --- who sees what -----------------------------------------------------------------------


def test_a_manager_sees_the_device_and_user_tokens_of_their_store_only(
    as_manager, manager, cashier, register, vienna_register, make_user, other_location
):
    device = issue_device_token(register=register, by=manager, name="Front till").token
    cashiers = issue_user_token(user=cashier, name="Carl's script").token
    vienna_manager = make_user("vera", location=other_location, role="manager")
    vienna_device = issue_device_token(
        register=vienna_register, by=vienna_manager, name="Vienna terminal"
    ).token
    vienna_user = issue_user_token(user=vienna_manager, name="Vera's laptop").token

    response = as_manager.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"{device.prefix}…" in html and "Front till" in html
    assert f"{cashiers.prefix}…" in html and "Carl&#x27;s script" in html
    assert vienna_device.prefix not in html and "Vienna terminal" not in html
    assert vienna_user.prefix not in html and "Vera" not in html
    assert "Vienna till" not in html  # not offered in the issue form either
    assert "no-store" in response["Cache-Control"]  # it may carry a new secret


def test_user_tokens_of_every_role_at_the_store_are_listed_with_the_role(
    as_manager, cashier, accountant
):
    issue_user_token(user=cashier, name="till script")
    issue_user_token(user=accountant, name="bookkeeping export")

    html = as_manager.get(URL).content.decode()

    assert "till script" in html and "bookkeeping export" in html
    assert "cashier" in html and "accountant" in html


@pytest.mark.parametrize("who", ["cashier", "accountant"])
def test_cashiers_and_accountants_are_refused(client, who, request):
    client.force_login(request.getfixturevalue(who))
    response = client.get(URL)
    assert response.status_code == 403
    assert "managed by store managers" in response.content.decode()
    assert client.post(URL, {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_someone_without_a_store_is_refused(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_top_bar_links_the_page_for_managers_only(client, manager, cashier):
    client.force_login(manager)
    assert 'href="/tokens/"' in client.get(reverse("operations:registers")).content.decode()
    client.force_login(cashier)
    assert 'href="/tokens/"' not in client.get(reverse("operations:registers")).content.decode()


def test_a_manager_of_two_stores_picks_one_or_sees_both(
    client, make_user, location, other_location, register, vienna_register
):
    boss = make_user("bea", location=location, role="manager")
    boss.memberships.create(location=other_location, role="manager")
    client.force_login(boss)
    issue_device_token(register=register, by=boss, name="Amsterdam terminal")
    issue_device_token(register=vienna_register, by=boss, name="Vienna terminal")

    both = client.get(URL).content.decode()
    assert "Amsterdam terminal" in both and "Vienna terminal" in both

    one = client.get(URL, {"location": other_location.pk}).content.decode()
    assert "Vienna terminal" in one and "Amsterdam terminal" not in one


def test_a_store_the_user_does_not_manage_is_not_found(client, make_user, location, other_location):
    user = make_user("mixed", location=location, role="manager")
    user.memberships.create(location=other_location, role="cashier")
    client.force_login(user)
    assert client.get(URL, {"location": other_location.pk}).status_code == 404


# --- what a row says ---------------------------------------------------------------------


def test_last_use_and_expiry_are_shown_in_the_store_time_zone(as_manager, manager, register):
    expires = dt.datetime(2031, 7, 1, 18, 30, tzinfo=AMSTERDAM)
    token = issue_device_token(
        register=register, by=manager, name="Used one", expires_at=expires
    ).token
    never = issue_device_token(register=register, by=manager, name="Unused one").token
    used = dt.datetime(2026, 11, 20, 8, 15, tzinfo=dt.UTC)  # 09:15 in Amsterdam
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=used)

    html = as_manager.get(URL).content.decode()

    row = html[html.index(f'id="token-{register.location_id}-{token.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "20/11/2026 09:15" in row
    assert "01/07/2031 18:30" in row
    other = html[html.index(f'id="token-{register.location_id}-{never.pk}"') :]
    other = other[: other.index("</tr>")]
    assert other.count("never") == 2  # never used, never expires


def test_revoked_and_expired_tokens_are_hidden_until_asked_for(
    as_manager, manager, cashier, register
):
    active = issue_device_token(register=register, by=manager, name="Still working").token
    revoked = issue_device_token(register=register, by=manager, name="Stolen tablet").token
    revoke_token(token=revoked, by=manager)
    expired = issue_user_token(user=cashier, name="Old script").token
    ApiToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    default = as_manager.get(URL).content.decode()
    assert "Still working" in default
    assert "Stolen tablet" not in default and "Old script" not in default
    assert "2 revoked or expired hidden" in default

    everything = as_manager.get(URL, {"show": "all"}).content.decode()
    assert "Stolen tablet" in everything and "Old script" in everything
    assert "Hide revoked and expired" in everything
    # Active first, then the ones that ended.
    assert everything.index("Still working") < everything.index("Stolen tablet")
    stolen = everything[everything.index(f'id="token-{register.location_id}-{revoked.pk}"') :]
    stolen = stolen[: stolen.index("</tr>")]
    assert "revoked" in stolen and "by Maria" in stolen
    assert _revoke_url(revoked) not in everything
    assert _revoke_url(active) in everything


# --- revoking ----------------------------------------------------------------------------


def test_revoking_a_device_token_stops_it_on_the_api(as_manager, manager, register):
    issued = issue_device_token(register=register, by=manager, name="Front till")
    assert _api_status(issued.secret) == 200

    confirm = as_manager.get(_revoke_url(issued.token))
    assert confirm.status_code == 200
    assert "Revoke token" in confirm.content.decode()
    assert not _fresh(issued.token).is_revoked  # a GET changes nothing

    response = as_manager.post(_revoke_url(issued.token) + "?show=all", follow=True)

    assert response.redirect_chain[0] == (f"{URL}?show=all", 302)
    assert "Revoked" in response.content.decode() and "Front till" in response.content.decode()
    token = _fresh(issued.token)
    assert token.is_revoked and token.revoked_by == manager
    assert token.revoke_reason == ApiToken.RevokeReason.REVOKED
    assert AuditEntry.objects.filter(action="api_token.revoke", object_id=str(token.pk)).exists()
    assert _api_status(issued.secret) == 401


def test_revoking_a_staff_user_token_stops_it(as_manager, cashier, location):
    issued = issue_user_token(user=cashier, name="till script")
    assert _api_status(issued.secret) == 200
    assert as_manager.post(_revoke_url(issued.token)).status_code == 302
    assert _fresh(issued.token).is_revoked
    assert _api_status(issued.secret) == 401


def test_revoking_twice_changes_nothing(as_manager, manager, register):
    token = issue_device_token(register=register, by=manager, name="Front till").token
    as_manager.post(_revoke_url(token))
    first = _fresh(token).revoked_at

    response = as_manager.post(_revoke_url(token), follow=True)

    assert response.status_code == 200
    assert "already revoked" in response.content.decode()
    assert _fresh(token).revoked_at == first
    assert AuditEntry.objects.filter(action="api_token.revoke").count() == 1


def test_another_store_token_cannot_be_revoked(
    as_manager, make_user, other_location, vienna_register
):
    vera = make_user("vera", location=other_location, role="manager")
    device = issue_device_token(register=vienna_register, by=vera, name="Vienna").token
    user_token = issue_user_token(user=vera).token

    for token in (device, user_token):
        assert as_manager.get(_revoke_url(token)).status_code == 404
        assert as_manager.post(_revoke_url(token)).status_code == 404
        assert not _fresh(token).is_revoked
    assert not AuditEntry.objects.filter(action="api_token.revoke").exists()


def test_a_cashier_cannot_revoke(client, cashier, manager, register):
    token = issue_device_token(register=register, by=manager, name="Front till").token
    client.force_login(cashier)
    assert client.post(_revoke_url(token)).status_code == 404
    assert not _fresh(token).is_revoked


def test_revoking_is_post_only_with_csrf(manager, register):
    token = issue_device_token(register=register, by=manager, name="Front till").token
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager)
    assert strict.post(_revoke_url(token)).status_code == 403
    assert not _fresh(token).is_revoked


# --- issuing -----------------------------------------------------------------------------


def test_issuing_shows_the_secret_once_and_it_works(as_manager, manager, register):
    response = as_manager.post(
        URL, _issue_form(register, expires_at="2031-03-01T09:00"), follow=True
    )

    assert response.status_code == 200
    html = response.content.decode()
    secrets = set(_secret_in(html))
    assert len(secrets) == 1
    secret = secrets.pop()
    assert "will not be shown again" in html
    assert f"Authorization: Token {secret}" in html  # the curl example
    token = ApiToken.objects.get()
    assert token.is_device_token and token.register == register and token.user == manager
    assert token.name == "Till 1 tablet"
    # Typed in the store's time: 09:00 in Amsterdam in winter is 08:00 UTC.
    assert token.expires_at == dt.datetime(2031, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert secret not in response.redirect_chain[0][0]
    assert not any(secret in morsel.value for morsel in response.cookies.values())
    assert _api_status(secret) == 200

    reload = as_manager.get(URL).content.decode()
    assert secret not in reload and not _secret_in(reload)
    assert "will not be shown again" not in reload
    assert "Till 1 tablet" in reload  # listed, by its prefix only
    assert secret not in str(dict(as_manager.session.items()))  # gone from the session
    assert ApiToken.objects.count() == 1


def test_issuing_without_expiry_means_never(as_manager, register):
    as_manager.post(URL, _issue_form(register))
    assert ApiToken.objects.get().expires_at is None


def test_an_expiry_in_the_past_is_a_form_error_and_issues_nothing(as_manager, register):
    response = as_manager.post(URL, _issue_form(register, expires_at="2020-01-01T12:00"))

    assert response.status_code == 400
    assert "Give a moment in the future." in response.content.decode()
    assert not ApiToken.objects.exists()
    assert not _secret_in(response.content.decode())


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": ""}, "Give the token a name."),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"expires_at": "next tuesday"}, "Enter a valid date/time."),
        ({"register": ""}, "Choose the register of the terminal."),
    ],
)
def test_bad_input_is_shown_beside_the_field(as_manager, register, changes, message):
    response = as_manager.post(URL, _issue_form(register, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_register_of_another_store_cannot_be_chosen(as_manager, vienna_register):
    response = as_manager.post(URL, _issue_form(vienna_register))
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


# --- queries -----------------------------------------------------------------------------


def _tokens(count: int, *, manager, register, cashier) -> None:
    for number in range(count):
        issued = issue_device_token(register=register, by=manager, name=f"Device {number}")
        if number % 3 == 0:
            revoke_token(token=issued.token, by=manager)
        issue_user_token(user=cashier, name=f"Script {number}")


def test_the_page_reads_the_same_number_of_queries_for_2_or_20_tokens(
    as_manager, manager, cashier, register
):
    _tokens(2, manager=manager, register=register, cashier=cashier)
    as_manager.get(URL)  # the session and the like, warmed up
    with CaptureQueriesContext(connection) as few:
        assert as_manager.get(URL, {"show": "all"}).status_code == 200

    _tokens(18, manager=manager, register=register, cashier=cashier)
    with CaptureQueriesContext(connection) as many:
        response = as_manager.get(URL, {"show": "all"})
    assert response.content.decode().count("token-row") == 40

    assert len(many) == len(few)


def test_a_head_request_does_not_use_up_the_one_showing(as_manager, register):
    as_manager.post(URL, _issue_form(register))
    assert as_manager.head(URL).status_code == 200
    assert len(_secret_in(as_manager.get(URL).content.decode())) >= 1
    assert not _secret_in(as_manager.get(URL).content.decode())
