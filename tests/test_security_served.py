"""HTTPS=1 through the production server (gunicorn behind a TLS proxy, as in
docs/DEPLOYMENT.md), and the login rate counted across its worker processes.

The proxy is played by the test: it sends `X-Forwarded-Proto: https` for a request that
came in over TLS, and nothing for one over plain HTTP. gunicorn trusts the header from
127.0.0.1 (FORWARDED_ALLOW_IPS), Django from SECURE_PROXY_SSL_HEADER.
"""

from __future__ import annotations

import http.client
import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.served import database_url, serve

pytestmark = pytest.mark.django_db(transaction=True)

TLS = {"X-Forwarded-Proto": "https"}


def _served_url() -> str:
    return database_url(connection.settings_dict)


def _user_the_server_knows(make_user, *args, **kwargs):
    """The suite hashes passwords with MD5, which the server does not take: give the user
    a PBKDF2 hash (cheap iterations; the server re-hashes it at the first login)."""
    user = make_user("maria", *args, **kwargs)
    password = PBKDF2PasswordHasher().encode("s3cret-pass", "saltsaltsalt", iterations=1000)
    type(user).objects.filter(pk=user.pk).update(password=password)
    return user


def _request(server, method: str, path: str, headers: dict, body: str | None = None):
    """(status, headers, every Set-Cookie, body) of one request on a new connection."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": server.host, **headers})
        response = conn.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.msg.get_all("Set-Cookie") or [], response.read()
    finally:
        conn.close()


def test_https_redirects_plain_http_and_sends_hsts_and_secure_cookies(make_user, location):
    _user_the_server_knows(make_user, location=location, role="manager")
    with serve(_served_url(), workers=1, threads=2, HTTPS="1", HSTS_INCLUDE_SUBDOMAINS="1") as s:
        # Plain HTTP: sent to the same page over HTTPS.
        status, headers, _, _ = _request(s, "GET", "/login/?next=/registers/", {})
        assert status == 301
        assert headers["location"] == "https://127.0.0.1/login/?next=/registers/"
        assert "strict-transport-security" not in headers  # only over TLS
        # A load balancer's probe over plain HTTP still gets its answer.
        assert _request(s, "GET", "/healthz", {})[0] == 200

        # Over TLS: the page, HSTS for a year, and a CSRF cookie that needs TLS.
        status, headers, cookies, body = _request(s, "GET", "/login/", TLS)
        assert status == 200
        assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "unsafe-inline" not in headers["content-security-policy"]
        [csrf_cookie] = [c for c in cookies if c.startswith("csrftoken=")]
        assert "Secure" in csrf_cookie

        # Logging in over TLS: the session cookie is Secure, HttpOnly, and a browser-session
        # cookie (no Max-Age, no Expires).
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
        form = f"csrfmiddlewaretoken={token}&username=maria&password=s3cret-pass"
        status, headers, cookies, _ = _request(
            s,
            "POST",
            "/login/",
            {
                **TLS,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": csrf_cookie.split(";")[0],
                "Origin": "https://127.0.0.1",
                "Referer": "https://127.0.0.1/login/",
            },
            form,
        )
        assert status == 302, s.error_log()[-2000:]
        [session_cookie] = [c for c in cookies if c.startswith("sessionid=")]
        attributes = {part.strip().split("=")[0].lower() for part in session_cookie.split(";")}
        assert {"secure", "httponly"} <= attributes
        assert not {"max-age", "expires"} & attributes


def test_the_login_rate_holds_across_worker_processes(make_user):
    """Ten token requests a minute from one address, whichever of the two processes
    answers: the count is in the database, not in a process."""
    _user_the_server_knows(make_user)
    with serve(_served_url(), workers=2, threads=2) as server:
        answers = []
        for _ in range(12):
            status, _headers, _body = server.post(
                "/api/v1/auth/token/", {"username": "maria", "password": "s3cret-pass"}
            )
            answers.append(status)
        booted = server.error_log().count("Booting worker")
    assert answers == [201] * 10 + [429] * 2
    assert booted == 2  # which of them answered each request is the kernel's choice
