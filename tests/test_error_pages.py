"""No secret on Django's debug page, and JSON errors from the API with DEBUG on or off.

Under runserver (`make run`, DEBUG on) request.META holds the whole environment, so the
tests put DATABASE_URL and friends in META the same way.
"""

from __future__ import annotations

import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from cashdrawer.error_reports import SecretsHidingFilter, redact

pytestmark = pytest.mark.urls("tests.test_error_pages")

SECRET = "hunter2"  # every secret below contains it; no page may


def leaky_locals(request: HttpRequest) -> HttpResponse:
    database_url = f"postgres://cashier:{SECRET}-local@db.example.com:5432/cash"
    conn_params = {"host": "db.example.com", "password": f"{SECRET}-dict"}
    dsn = f"host=db.example.com password={SECRET}-dsn dbname=cash"
    note = f"connect with postgres://ops:{SECRET}-inline@db/x please"
    api_token_value = f"{SECRET}-token"
    visible = "an-ordinary-local"
    raise RuntimeError(
        f"could not reach redis://:{SECRET}-message@cache:6379/0 "
        f"({len(database_url + dsn + note + api_token_value + visible + str(conn_params))})"
    )


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an unexpected bug")


class BoomApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request) -> Response:
        raise RuntimeError("an unexpected bug")


handler500 = "cashdrawer.error_reports.server_error"
urlpatterns = [
    path("leaky/", leaky_locals),
    path("boom/", boom),
    path("api/boom/", boom),
    path("api/drf-boom/", BoomApi.as_view()),
]

ENVIRONMENT = {
    "DATABASE_URL": f"postgres://cashdrawer:{SECRET}-env@db.example.com/cash",
    "SECRET_KEY": f"{SECRET}-secret-key",
    "SENTRY_DSN": f"https://{SECRET}-sentry@o1.ingest.example.com/1",
    "STRIPE_API_KEY": f"{SECRET}-stripe",
    "PGPASSWORD": f"{SECRET}-pgpassword",
    "GITHUB_TOKEN": f"{SECRET}-github",
    "BACKUP_URL": "s3://backups.example.com/cashdrawer",
    "CASHDRAWER_NOTE": "an-ordinary-variable",
}


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True
    settings.PAYMENT_PROVIDER_TOKEN = f"{SECRET}-setting"
    settings.MAIL_PASSWORD = f"{SECRET}-mail"
    settings.REPORTS_MIRROR = {"endpoint": f"https://sync:{SECRET}-nested@mirror.example.com/"}
    settings.CACHE_URL = "redis://cache.example.com:6379/0"
    return settings


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_the_debug_page_hides_every_secret(debug_on, accept):
    response = Client(raise_request_exception=False).post(
        f"/leaky/?token={SECRET}-query&page=2",
        {"password": f"{SECRET}-post", "amount": "12.50"},
        HTTP_ACCEPT=accept,
        **ENVIRONMENT,
    )
    page = response.content.decode()

    assert response.status_code == 500
    assert "RuntimeError" in page  # it is the debug page
    assert SECRET not in page
    # What is not secret is still there to debug with.
    for shown in ("an-ordinary-variable", "12.50"):
        assert shown in page
    if accept == "text/html":  # the text version has no local variables
        assert "an-ordinary-local" in page
        assert "db.example.com" in page  # the host of a URL whose password is hidden
    for name in ("DATABASE_URL", "SECRET_KEY", "PAYMENT_PROVIDER_TOKEN", "CACHE_URL"):
        assert name in page  # named, with stars for a value
    assert "redis://cache.example.com" not in page  # a setting named *URL* is hidden whole
    assert "s3://backups.example.com" not in page  # so is an environment variable


def test_the_filter_hides_names_and_passwords_in_values():
    hide = SecretsHidingFilter()
    stars = SecretsHidingFilter.cleansed_substitute
    assert hide.cleanse_setting("DATABASE_URL", "sqlite:///x") == stars
    assert hide.cleanse_setting("ANY_PASSWORD", "x") == stars
    assert hide.cleanse_setting("DEBUG", True) is True
    assert hide.cleanse_setting("DATABASES", {"default": {"HOST": "db", "PASSWORD": "p"}}) == {
        "default": {"HOST": "db", "PASSWORD": stars}
    }
    assert hide.cleanse_setting("NOTE", "see postgres://u:p4ss@db/x") == (
        f"see postgres://u:{stars}@db/x"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://u:secret@db:5432/x", "postgres://u:********************@db:5432/x"),
        ("redis://:secret@cache:6379/0", "redis://:********************@cache:6379/0"),
        ("postgres://u@db/x", "postgres://u@db/x"),  # no password, nothing to hide
        ("https://example.com:8443/path", "https://example.com:8443/path"),
        ("host=db password=secret dbname=x", "host=db password=******************** dbname=x"),
        ("password = 'sec ret' host=db", "password = ******************** host=db"),
        ("/leaky/?token=abc&page=2", "/leaky/?token=********************&page=2"),
        ("api_key=abc&page=2", "api_key=********************&page=2"),
        ("/reports/?location=3&page=2", "/reports/?location=3&page=2"),
    ],
)
def test_redact_takes_out_the_password_of_urls_and_connection_strings(text, expected):
    assert redact(text) == expected


# --- the API answers JSON errors in every mode ----------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("url", ["/api/boom/", "/api/drf-boom/"])
def test_an_unexpected_api_error_is_a_json_500_logged_with_its_traceback(
    settings, caplog, debug, url
):
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).get(url, **ENVIRONMENT)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "A server error occurred. It has been logged.",
        "code": "server_error",
    }
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1  # logged once, not again for the JSON that replaced the page
    assert errors[0].name == "django.request"
    assert errors[0].exc_info and "an unexpected bug" in str(errors[0].exc_info[1])


def test_a_page_error_with_debug_off_stays_the_plain_500_page(settings):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "an unexpected bug" not in response.content.decode()
