"""User tokens, device tokens and the session cookie: issued, stored hashed, used, revoked."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from cashdrawer.authentication import TokenAuthentication, issue_device_token
from cashdrawer.models import ApiToken, AuditEntry
from sessions_app.models import Transaction
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db


def _sale(register) -> dict:
    return {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": "2.00"}


# --- user tokens ---------------------------------------------------------------------------


def test_a_user_token_for_a_username_and_password(api_client, manager, location):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "maria", "password": "s3cret-pass"}
    )
    assert response.status_code == 201
    secret = response.json()["token"]
    token = ApiToken.objects.get(pk=response.json()["id"])
    assert token.kind == "user" and token.user == manager
    # Stored only as its SHA-256; the secret itself is nowhere in the database.
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert not ApiToken.objects.filter(digest=secret).exists()
    assert secret not in str(list(AuditEntry.objects.values_list("data", flat=True)))

    listed = client_with(secret).get("/api/v1/locations/")
    assert listed.status_code == 200
    assert [loc["id"] for loc in listed.json()["results"]] == [location.pk]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "maria", "password": "wrong"},
        {"username": "nobody", "password": "s3cret-pass"},
        {"username": "maria"},
        {},
        {"username": ["maria"], "password": "s3cret-pass"},
    ],
)
def test_wrong_credentials_get_no_token(api_client, manager, body):
    response = api_client.post("/api/v1/auth/token/", body)
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token_and_their_tokens_stop(api_client, client_for, manager):
    api = client_for(manager)
    manager.is_active = False
    manager.save()
    assert api.get("/api/v1/locations/").status_code == 401
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "maria", "password": "s3cret-pass"}
    )
    assert response.status_code == 400


def test_a_user_token_revokes_itself(api_client, manager):
    secret = api_client.post(
        "/api/v1/auth/token/", {"username": "maria", "password": "s3cret-pass"}
    ).json()["token"]
    api = client_with(secret)
    assert api.delete("/api/v1/auth/token/").status_code == 204
    response = api.get("/api/v1/locations/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_last_used_at_is_written_at_most_once_a_minute(
    client_for, manager, django_assert_num_queries
):
    api = client_for(manager)
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    api.get("/api/v1/locations/")
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    api.get("/api/v1/locations/")
    token.refresh_from_db()
    assert token.last_used_at == first_use  # within the minute: not written again

    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - dt.timedelta(minutes=2)
    )
    api.get("/api/v1/locations/")
    token.refresh_from_db()
    assert token.last_used_at > first_use


def test_authenticating_a_recently_used_token_costs_one_query(
    manager, register, django_assert_num_queries
):
    issued = issue_device_token(register=register, by=manager)
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=timezone.now())
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {issued.secret}")
    with django_assert_num_queries(1):
        user, token = TokenAuthentication().authenticate(request)
    assert user == manager
    assert token.is_device_token and token.register_id == issued.token.register_id


# --- device tokens -------------------------------------------------------------------------


def test_a_manager_issues_a_device_token_shown_once(client_for, manager, register):
    api = client_for(manager)
    response = api.post(
        f"/api/v1/registers/{register.pk}/device-tokens/", {"name": "Till R terminal"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "register", "name", "prefix", "created_at", "created_by",
        "last_used_at", "expires_at", "revoked_at", "token",
    }  # fmt: skip
    assert body["register"] == register.pk
    assert body["created_by"] == {"id": manager.pk, "name": "Maria"}
    assert body["token"].startswith(body["prefix"])

    listed = api.get(f"/api/v1/registers/{register.pk}/device-tokens/")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert "token" not in listed.json()[0]
    one = api.get(f"/api/v1/device-tokens/{body['id']}/")
    assert one.status_code == 200 and "token" not in one.json()

    # The device acts on its register, as itself; the issuing manager is in the audit entry.
    device = client_with(body["token"])
    sale = device.post("/api/v1/transactions/", _sale(register))
    assert sale.status_code == 201
    recorded = Transaction.objects.get()
    assert recorded.recorded_by is None
    assert recorded.recorded_by_device_id == body["id"]
    assert device.get(f"/api/v1/registers/{register.pk}/").status_code == 200


def test_a_revoked_device_token_is_401(client_for, device_client_for, manager, register):
    device = device_client_for(register)
    token = ApiToken.objects.get(kind="device")
    assert device.get("/api/v1/sessions/").status_code == 200
    response = client_for(manager).delete(f"/api/v1/device-tokens/{token.pk}/")
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == manager
    assert device.get("/api/v1/sessions/").status_code == 401
    assert device.post("/api/v1/transactions/", _sale(register)).status_code == 401
    # Revoking again changes nothing.
    assert client_for(manager).delete(f"/api/v1/device-tokens/{token.pk}/").status_code == 204
    assert AuditEntry.objects.filter(action="api_token.revoke").count() == 1


def test_a_device_token_stops_when_its_manager_leaves_the_location(
    device_client_for, manager, register
):
    device = device_client_for(register, by=manager)
    manager.memberships.all().delete()
    assert device.post("/api/v1/transactions/", _sale(register)).status_code == 404


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (("get", "/api/v1/locations/"), 403),
        (("get", "/api/v1/registers/"), 403),
        (("get", "/api/v1/denominations/"), 200),
        (("get", "/api/v1/sessions/"), 200),
        (("get", "/api/v1/transactions/"), 200),
        (("get", "/api/v1/registers/{other}/"), 403),
        (("post", "/api/v1/registers/{own}/device-tokens/"), 403),
        (("get", "/api/v1/registers/{own}/device-tokens/"), 403),
        (("delete", "/api/v1/auth/token/"), 403),
    ],
)
def test_a_device_token_is_refused_outside_its_register(
    device_client_for, register, make_register, location, request_, expected
):
    other = make_register(location, count_method="total")
    method, path = request_
    device = device_client_for(register)
    response = getattr(device, method)(path.format(own=register.pk, other=other.pk), {})
    assert response.status_code == expected, response.content


def test_a_device_reads_only_its_own_registers_sessions_and_transactions(
    device_client_for, manager, register, make_register, location
):
    from sessions_app import services

    other = make_register(location, count_method="total")
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="1", by=None
    )
    services.record_transaction(
        register=other, kind="sale", payment_method="cash", amount="2", by=None
    )
    device = device_client_for(register)
    sessions = device.get("/api/v1/sessions/").json()["results"]
    assert [s["register"] for s in sessions] == [register.pk]
    transactions = device.get("/api/v1/transactions/").json()["results"]
    assert [t["amount"] for t in transactions] == ["1.00"]
    other_session = other.sessions.get()
    assert device.get(f"/api/v1/sessions/{other_session.pk}/").status_code == 403
    assert device.post(f"/api/v1/sessions/{other_session.pk}/close/", {}).status_code == 403
    assert device.post("/api/v1/transactions/", _sale(other)).status_code == 403
    assert other.transactions.count() == 1


# --- the contract with the report endpoints ------------------------------------------------


def test_request_auth_tells_device_tokens_from_user_tokens(manager, register):
    device = issue_device_token(register=register, by=manager)
    auth = TokenAuthentication()
    factory = APIRequestFactory()
    _user, device_auth = auth.authenticate(
        factory.get("/", HTTP_AUTHORIZATION=f"Token {device.secret}")
    )
    assert device_auth.is_device_token is True
    assert device_auth.register_id == register.pk
    from cashdrawer.authentication import issue_user_token

    user_token = issue_user_token(user=manager)
    _user, user_auth = auth.authenticate(
        factory.get("/", HTTP_AUTHORIZATION=f"Token {user_token.secret}")
    )
    assert user_auth.is_device_token is False
    assert auth.authenticate(factory.get("/")) is None
    assert not AnonymousUser().is_authenticated


# --- the browser's session cookie ----------------------------------------------------------


def test_the_session_cookie_works_and_unsafe_methods_need_csrf(manager, register):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)
    assert browser.get("/api/v1/sessions/").status_code == 200
    refused = browser.post(
        "/api/v1/transactions/", _sale(register), content_type="application/json"
    )
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    browser.get("/api/v1/sessions/")  # any page that sets the cookie would do
    from django.middleware.csrf import _get_new_csrf_string

    token = _get_new_csrf_string()
    browser.cookies["csrftoken"] = token
    accepted = browser.post(
        "/api/v1/transactions/",
        _sale(register),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 201


# --- admin -----------------------------------------------------------------------------------


def test_the_admin_lists_and_revokes_tokens_without_showing_the_hash(
    client, make_user, manager, register
):
    issued = issue_device_token(register=register, by=manager, name="Till R")
    root = make_user("root", is_superuser=True, is_staff=True)
    client.force_login(root)
    page = client.get("/admin/cashdrawer/apitoken/")
    assert page.status_code == 200
    assert issued.token.prefix in page.content.decode()
    assert issued.token.digest not in page.content.decode()
    detail = client.get(f"/admin/cashdrawer/apitoken/{issued.token.pk}/change/")
    assert detail.status_code == 200
    assert issued.token.digest not in detail.content.decode()
    response = client.post(
        "/admin/cashdrawer/apitoken/",
        {"action": "revoke", "_selected_action": [issued.token.pk]},
    )
    assert response.status_code == 302
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None
    assert client.get("/admin/cashdrawer/apitoken/add/").status_code == 403
