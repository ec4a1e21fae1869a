"""Locked down (docs/SECURITY.md): login lockouts, API rates, expiring and revoked tokens,
security headers, the session cookie, and `check --deploy` under production settings.

The attempts an attacker made on the unprotected server are replayed here and refused.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token, issue_user_token
from cashdrawer.models import ApiToken, AuditEntry
from cashdrawer.throttling import TokenRateThrottle
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "s3cret-pass"  # what make_user gives everyone
LIMIT = settings.AXES_FAILURE_LIMIT


def _post_login(client, path: str, username: str, password: str, address: str = "10.1.1.1"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _lockouts() -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action="login_failed", data__reason="locked_out").order_by("id")
    )


def _fifteen_minutes_pass() -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=16))


# --- the login page and the admin's -------------------------------------------------------


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_ten_failures_lock_the_username_out_even_with_the_right_password(
    client, make_user, location, path
):
    make_user("maria", is_staff=True)
    for attempt in range(1, LIMIT + 1):
        response = _post_login(client, path, "maria", f"guess-{attempt}")
        assert response.status_code == (429 if attempt == LIMIT else 200), attempt

    refused = _post_login(client, path, "maria", PASSWORD, address="10.9.9.9")
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "15 minutes" in refused.content.decode()
    assert int(refused["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    # The refusal is in the audit trail, with the username and address it came from.
    last = _lockouts()[-1]
    assert (last.data["username"], last.address) == ("maria", "10.9.9.9")

    _fifteen_minutes_pass()
    allowed = _post_login(client, path, "maria", PASSWORD)
    assert allowed.status_code == 302
    assert client.session["_auth_user_id"]


def test_ten_failures_from_one_address_lock_that_address_out(client, make_user):
    make_user("maria")
    for attempt in range(LIMIT):
        _post_login(client, "/login/", f"guess-{attempt}", "wrong", address="10.6.6.6")

    assert _post_login(client, "/login/", "maria", PASSWORD, address="10.6.6.6").status_code == 429
    # Another address is not affected.
    assert _post_login(client, "/login/", "maria", PASSWORD, address="10.7.7.7").status_code == 302


def test_the_lockout_shows_the_login_form_with_its_message(client, make_user):
    make_user("maria")
    for attempt in range(LIMIT):
        _post_login(client, "/login/", "maria", f"guess-{attempt}")
    response = client.get("/login/")  # looking is fine
    assert response.status_code == 200
    refused = _post_login(client, "/login/", "maria", PASSWORD)
    html = refused.content.decode()
    assert 'role="alert"' in html
    assert 'name="username" value="maria"' in html
    assert refused.templates[0].name == "registration/login.html"


# --- POST /api/v1/auth/token/ ---------------------------------------------------------------


def test_the_token_endpoint_takes_ten_attempts_a_minute_from_one_address(make_user):
    make_user("maria")
    api = APIClient()
    for _ in range(10):
        response = api.post(
            "/api/v1/auth/token/",
            {"username": "maria", "password": PASSWORD},
            REMOTE_ADDR="10.2.2.2",
        )
        assert response.status_code == 201
    throttled = api.post(
        "/api/v1/auth/token/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="10.2.2.2"
    )
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert ApiToken.objects.count() == 10
    # Another address still gets its token.
    other = api.post(
        "/api/v1/auth/token/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="10.3.3.3"
    )
    assert other.status_code == 201


def test_failed_api_logins_lock_the_username_out_like_the_login_page(make_user):
    """Ten failures, each from another address (past the per-address rate): the username
    is locked out of the API as well, the right password included."""
    make_user("maria")
    api = APIClient()
    for attempt in range(LIMIT):
        response = api.post(
            "/api/v1/auth/token/",
            {"username": "maria", "password": f"guess-{attempt}"},
            REMOTE_ADDR=f"10.4.0.{attempt + 1}",
        )
        assert response.status_code in (400, 429), response.content
    refused = api.post(
        "/api/v1/auth/token/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="10.4.1.1"
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "locked_out"
    assert int(refused["Retry-After"]) == 15 * 60
    assert not ApiToken.objects.exists()
    assert _lockouts()[-1].data["via"] == "api"


def test_a_login_page_lockout_also_closes_the_api_and_the_other_way_round(client, make_user):
    make_user("maria")
    for attempt in range(LIMIT):
        _post_login(client, "/login/", "maria", f"guess-{attempt}")
    refused = APIClient().post(
        "/api/v1/auth/token/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="10.5.5.5"
    )
    assert (refused.status_code, refused.json()["code"]) == (429, "locked_out")


# --- tokens: guessed, expired, revoked -------------------------------------------------------


def test_guessed_tokens_are_refused_and_then_slowed_down(manager):
    real = client_with(issue_user_token(user=manager).secret)
    rate = int(settings.API_BAD_TOKEN_RATE.split("/")[0])
    answers = [
        client_with(f"cdu_{secrets.token_urlsafe(32)}")
        .get("/api/v1/locations/", REMOTE_ADDR="10.8.8.8")
        .status_code
        for _ in range(rate + 5)
    ]
    assert answers == [401] * rate + [429] * 5
    # A right token from the same address still works: one terminal with a revoked token
    # cannot lock its store-mates out.
    assert real.get("/api/v1/locations/", REMOTE_ADDR="10.8.8.8").status_code == 200


def test_a_busy_token_meets_its_rate_only_past_it(manager, monkeypatch):
    monkeypatch.setitem(TokenRateThrottle.THROTTLE_RATES, "token", "5/min")
    busy = client_with(issue_user_token(user=manager).secret)
    calm = client_with(issue_user_token(user=manager).secret)
    answers = [busy.get("/api/v1/locations/").status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    assert calm.get("/api/v1/locations/").status_code == 200


def test_the_token_rate_is_generous():
    number, period = settings.API_TOKEN_RATE.split("/")
    assert (int(number), period) == (3000, "min")  # 50 a second, per token


def test_a_user_token_expires_after_the_set_number_of_days(manager):
    issued = issue_user_token(user=manager)
    api = client_with(issued.secret)
    assert issued.token.expires_at == pytest.approx(
        timezone.now() + dt.timedelta(days=30), abs=dt.timedelta(minutes=1)
    )
    assert api.get("/api/v1/locations/").status_code == 200

    ApiToken.objects.filter(pk=issued.token.pk).update(
        created_at=F("created_at") - dt.timedelta(days=30),
        expires_at=F("expires_at") - dt.timedelta(days=30),
    )
    response = api.get("/api/v1/locations/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_shorter_setting_shortens_the_user_tokens_already_out(manager):
    issued = issue_user_token(user=manager)
    ApiToken.objects.filter(pk=issued.token.pk).update(
        created_at=F("created_at") - dt.timedelta(days=8)
    )
    api = client_with(issued.secret)
    assert api.get("/api/v1/locations/").status_code == 200
    with override_settings(USER_TOKEN_DAYS=7):
        assert api.get("/api/v1/locations/").json()["code"] == "token_expired"


def test_a_device_token_never_expires_unless_its_manager_says_so(manager, register):
    forever = issue_device_token(register=register, by=manager, name="Till")
    ApiToken.objects.filter(pk=forever.token.pk).update(
        created_at=F("created_at") - dt.timedelta(days=800)
    )
    assert client_with(forever.secret).get(f"/api/v1/registers/{register.pk}/").status_code == 200

    api = client_with(issue_user_token(user=manager).secret)
    expiry = timezone.now() + dt.timedelta(days=2)
    response = api.post(
        f"/api/v1/registers/{register.pk}/device-tokens/",
        {"name": "Temp till", "expires_at": expiry.isoformat()},
    )
    assert response.status_code == 201
    body = response.json()
    assert dt.datetime.fromisoformat(body["expires_at"]) == expiry.replace(microsecond=0) or (
        abs(dt.datetime.fromisoformat(body["expires_at"]) - expiry) < dt.timedelta(seconds=1)
    )
    temporary = client_with(body["token"])
    assert temporary.get(f"/api/v1/registers/{register.pk}/").status_code == 200
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now())
    expired = temporary.get(f"/api/v1/registers/{register.pk}/")
    assert (expired.status_code, expired.json()["code"]) == (401, "token_expired")


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [("2020-01-01T00:00:00+00:00", "future"), ("2099-01-01T00:00:00", "UTC offset")],
)
def test_a_device_token_expiry_in_the_past_or_without_offset_is_refused(
    manager, register, expires_at, message
):
    api = client_with(issue_user_token(user=manager).secret)
    response = api.post(
        f"/api/v1/registers/{register.pk}/device-tokens/",
        {"name": "Till", "expires_at": expires_at},
    )
    assert response.status_code == 400
    assert message in response.json()["expires_at"][0]
    assert not ApiToken.objects.filter(kind="device").exists()


def _tokens_of(user) -> tuple[APIClient, APIClient]:
    return (
        client_with(issue_user_token(user=user, name="script").secret),
        client_with(issue_user_token(user=user, name="laptop").secret),
    )


def _refused(*clients: APIClient) -> bool:
    return all(api.get("/api/v1/locations/").status_code == 401 for api in clients)


def test_set_password_and_save_revokes_every_user_token_but_not_the_terminals(manager, register):
    tokens = _tokens_of(manager)
    terminal = client_with(issue_device_token(register=register, by=manager).secret)
    manager.set_password("a-new-long-password")
    manager.save()
    assert _refused(*tokens)
    assert terminal.get(f"/api/v1/registers/{register.pk}/").status_code == 200
    reasons = set(ApiToken.objects.filter(kind="user").values_list("revoke_reason", flat=True))
    assert reasons == {"password_changed"}
    assert (
        AuditEntry.objects.filter(
            action="api_token.revoke", data__reason="password_changed"
        ).count()
        == 2
    )


def test_the_password_change_form_revokes_the_users_tokens(client, make_user, location):
    user = make_user("stefan", is_staff=True)
    tokens = _tokens_of(user)
    client.force_login(user)
    response = client.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "Quite-another-secret-42",
            "new_password2": "Quite-another-secret-42",
        },
    )
    assert response.status_code == 302, response.content
    assert _refused(*tokens)


def test_the_admins_password_form_revokes_the_users_tokens(client, make_user, manager):
    root = make_user("root", is_staff=True, is_superuser=True)
    tokens = _tokens_of(manager)
    client.force_login(root)
    response = client.post(
        f"/admin/auth/user/{manager.pk}/password/",
        {
            "password1": "Quite-another-secret-42",
            "password2": "Quite-another-secret-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content
    assert _refused(*tokens)


def test_the_changepassword_command_revokes_the_users_tokens(manager, monkeypatch):
    from django.contrib.auth.management.commands import changepassword

    tokens = _tokens_of(manager)
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": "Another-pass-77")
    call_command("changepassword", "maria", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert _refused(*tokens)


def test_deactivating_a_user_revokes_their_tokens_for_good(manager, register):
    tokens = _tokens_of(manager)
    terminal = client_with(issue_device_token(register=register, by=manager).secret)
    manager.is_active = False
    manager.save()
    manager.is_active = True
    manager.save()  # back at work: the tokens stay revoked
    assert _refused(*tokens, terminal)
    assert set(ApiToken.objects.values_list("revoke_reason", flat=True)) == {"deactivated"}


def test_a_stronger_hash_of_the_same_password_at_login_revokes_nothing(client, manager):
    """Django re-hashes a password with stronger parameters when its user logs in; the
    password did not change, so the tokens stay."""
    # The suite hashes with MD5 (tests/conftest.py), which re-hashes a too short salt.
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    weak = MD5PasswordHasher().encode(PASSWORD, "abc")
    assert MD5PasswordHasher().must_update(weak)
    type(manager).objects.filter(pk=manager.pk).update(password=weak)
    tokens = _tokens_of(manager)
    assert _post_login(client, "/login/", "maria", PASSWORD).status_code == 302
    manager.refresh_from_db()
    assert manager.password != weak  # rehashed
    assert not _refused(*tokens)
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()


def test_saving_a_user_without_touching_the_password_revokes_nothing(manager):
    tokens = _tokens_of(manager)
    manager.first_name = "Mia"
    manager.save()
    assert not _refused(*tokens)


# --- headers and the session cookie -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/login/", "/api/v1/locations/", "/api/docs/", "/healthz"])
def test_every_answer_has_the_security_headers(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_session_ends_with_the_browser_and_after_twelve_idle_hours(client, manager):
    response = _post_login(client, "/login/", "maria", PASSWORD)
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"] and not cookie["expires"]  # a browser-session cookie
    assert cookie["httponly"]
    assert client.session.get_expire_at_browser_close()
    assert client.session.get_expiry_age() == 12 * 60 * 60

    # Each request moves the end along: twelve hours from the last one, not the login.
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + dt.timedelta(hours=1)
    )
    assert client.get("/registers/").status_code == 200
    expires = Session.objects.get(session_key=key).expire_date
    assert expires > timezone.now() + dt.timedelta(hours=11, minutes=59)

    # Twelve idle hours later the session is gone.
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get("/registers/").status_code == 302


def test_a_page_writes_the_session_only_when_its_end_moves_by_more_than_a_minute(client, manager):
    """Reading pages does not write the session row each time (a transaction and a WAL
    flush per page): only when the stored end lags more than a minute behind."""
    assert _post_login(client, "/login/", "maria", PASSWORD).status_code == 302
    key = client.session.session_key
    at_login = Session.objects.get(session_key=key).expire_date

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/registers/")
    assert response.status_code == 200
    assert not [q for q in queries.captured_queries if "django_session" in q["sql"]
                and not q["sql"].startswith("SELECT")]  # fmt: skip
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert Session.objects.get(session_key=key).expire_date == at_login

    # Two minutes of idling later, the next page moves the end along again.
    Session.objects.filter(session_key=key).update(expire_date=at_login - dt.timedelta(minutes=2))
    response = client.get("/registers/")
    assert settings.SESSION_COOKIE_NAME in response.cookies
    assert Session.objects.get(session_key=key).expire_date > at_login - dt.timedelta(seconds=5)


# --- check --deploy ------------------------------------------------------------------------------


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    environ = {
        name: value
        for name, value in os.environ.items()
        # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests in this process (async.E001).
        if not name.startswith(
            ("HTTPS", "HSTS", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC")
        )
    }
    environ.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "cash.example.com",
}


def test_check_deploy_is_clean_under_production_settings():
    result = _check_deploy(**PRODUCTION, HTTPS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_https():
    """The test above can fail: without HTTPS=1 the same check finds the warnings."""
    result = _check_deploy(**PRODUCTION)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout
