"""What an error shows: no secret on Django's debug page, and JSON under /api/ in every mode.

With DEBUG on (`make run`), a 500 shows Django's debug page to whoever triggered it. Under
runserver its request.META holds the whole process environment, so `DATABASE_URL` with its
password would be on it. `SecretsHidingFilter` (DEFAULT_EXCEPTION_REPORTER_FILTER) hides:

- every setting, request.META entry (so every environment variable under runserver),
  cookie and local variable whose name contains KEY, SECRET, PASS(WORD), TOKEN, URL, DSN
  (and Django's own API, AUTH, SIGNATURE), also inside dicts such as DATABASES;
- the password of every `scheme://user:password@host` URL and every `password=...` of a
  libpq connection string, wherever such a text appears: settings, META, local
  variables and the exception's message (`ExceptionReporter`);
- POST fields marked with `sensitive_post_parameters` (the login's password) and
  variables marked with `sensitive_variables`, which Django shows with DEBUG on.

The API answers JSON errors with DEBUG on or off: an unexpected exception under /api/
is still logged with its traceback by Django (django.request), and `ApiErrorMiddleware`
answers `{"detail", "code": "server_error"}` instead of the HTML debug page or the plain
"Server Error (500)". handler500 (`server_error`) does the same with DEBUG off, and sends a
database outage to `cashdrawer.outage`.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.views import debug
from django.views.defaults import server_error as default_server_error

from cashdrawer.outage import is_api_request, is_database_outage, outage_response

SECRET_NAMES = "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|URL|DSN"

# scheme://user:password@host -> scheme://user:********@host; the password ends at the
# last "@" before the host (an "@" inside it would be percent-encoded).
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s:/?#@]*:)(?P<secret>[^\s@]*)(?P<tail>@)", re.I
)
# A libpq connection string: "host=db password=secret dbname=x" (quoted or not); not a
# query parameter (?password=...), which the next pattern ends at its "&".
_DSN_PASSWORD = re.compile(
    r"(?P<head>(?<![?&;])\bpassword\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|\S+)(?P<tail>)", re.I
)
# A query parameter named like a secret, in a URL or a query string: ?token=...&page=2
_QUERY_SECRET = re.compile(
    rf"(?P<head>(?:^|[?&;])[^=&;\s?#]*(?:{SECRET_NAMES})[^=&;\s?#]*=)"
    r"(?P<secret>[^&;\s#'\"]*)(?P<tail>)",
    re.I,
)


def redact(text: str) -> str:
    """`text` with every password of a URL or connection string, and every query
    parameter named like a secret, replaced by stars."""
    for pattern in (_URL_PASSWORD, _DSN_PASSWORD, _QUERY_SECRET):
        text = pattern.sub(
            lambda m: f"{m['head']}{SecretsHidingFilter.cleansed_substitute}{m['tail']}", text
        )
    return text


class SecretsHidingFilter(debug.SafeExceptionReporterFilter):
    hidden_settings = re.compile(SECRET_NAMES, flags=re.I)

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django applies sensitive_post_parameters/sensitive_variables only with DEBUG off;
        # the debug page of `make run` is seen by people too.
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            # str(): a lazy setting (django-axes' are) passes as a str but is not one.
            return redact(str(cleansed))
        return cleansed

    def cleanse_named(self, items: MultiValueDict) -> MultiValueDict:
        """A copy of GET or POST with the fields named like a secret hidden."""
        cleansed = items.copy()
        for name in items:
            if isinstance(name, str) and self.hidden_settings.search(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_post_parameters(self, request):
        post = super().get_post_parameters(request)
        return self.cleanse_named(post) if isinstance(post, MultiValueDict) else post

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self._cleanse_variable(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _cleanse_variable(self, name: str, value: Any) -> Any:
        try:
            return self.cleanse_setting(name, value)
        except Exception:
            # A lazy object that fails to evaluate (request.user with the database
            # down): Django has already shown it as such.
            return value


class ExceptionReporter(debug.ExceptionReporter):
    """The debug page with the passwords of URLs also taken out of rendered values."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if self.request is not None and isinstance(self.filter, SecretsHidingFilter):
            data["request_GET_items"] = self.filter.cleanse_named(self.request.GET).items()
        if "request_insecure_uri" in data:
            data["request_insecure_uri"] = redact(str(data["request_insecure_uri"]))
        if "exception_value" in data:
            data["exception_value"] = redact(str(data["exception_value"]))
        for frame in data.get("frames", []):
            # Values are rendered with pprint by now: an object whose repr shows a URL
            # (a settings dict, a connection's parameters) is caught here.
            if "vars" in frame:
                frame["vars"] = [(name, redact(value)) for name, value in frame["vars"]]
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = redact(str(frame["exc_cause"]))
        return data


def api_server_error() -> JsonResponse:
    return JsonResponse(
        {"detail": _("A server error occurred. It has been logged."), "code": "server_error"},
        status=500,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500 (DEBUG off): an outage is a 503, an API error is JSON, a page as usual."""
    exc = sys.exc_info()[1]
    if is_database_outage(exc):
        return outage_response(request, exc)
    if is_api_request(request):
        return api_server_error()
    return default_server_error(request)


class ApiErrorMiddleware:
    """Under /api/, a 500 that is not JSON (the debug page, a middleware's failure) becomes
    the API's JSON error. Django has logged the exception with its traceback already."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 500
            and is_api_request(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            replacement = api_server_error()
            # The exception was logged with its traceback when it became this 500.
            replacement._has_been_logged = getattr(response, "_has_been_logged", False)
            return replacement
        return response
