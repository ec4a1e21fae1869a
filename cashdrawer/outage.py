"""A database outage answers 503 with Retry-After, never 500.

"Outage" is any OperationalError or InterfaceError from Django's database layer: the
server cannot be reached or refuses the connection (restarting, `too many clients
already`), the connection is lost in the middle of a request, or PostgreSQL gave up on
the transaction and asks for a retry (serialization failure 40001, deadlock 40P01). All
of these are worth retrying unchanged a moment later, and the request changed nothing:
its transaction rolled back, so a POST retried with the same Idempotency-Key lands
exactly once. (A `lock_timeout` while waiting for the first request with an
Idempotency-Key is answered before it gets here: 409 `idempotency_key_in_flight`.)

The API (paths under /api/) answers `{"detail", "code": "database_unavailable"}`; pages
answer templates/503.html, rendered without a request so that no context processor and
no `request.user` touches the database. Django drops a broken connection at the end of
the request (and checks a reused one before the next, CONN_HEALTH_CHECKS), so the app
recovers by itself as soon as the database is back.

Where the outage is raised decides who answers:

- in a DRF view: the API's exception handler (`api_outage_response`);
- in any other view or while rendering its template: `OutageMiddleware.process_exception`;
- in a middleware (a session saved after the view, a message stored): Django has already
  turned the exception into a 500 by the time any outer middleware sees it, so with DEBUG
  off handler500 (`cashdrawer.error_reports.server_error`) asks `outage_response`, and with
  DEBUG on `OutageMiddleware` replaces the debug page using the exception that Django
  announced with `got_request_exception`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from rest_framework.response import Response

logger = logging.getLogger(__name__)

CODE = "database_unavailable"
# Seconds a client should wait before retrying: a restarting PostgreSQL is usually back
# within a few seconds; a conflict with another transaction is over at once.
RETRY_AFTER_OUTAGE = 5
RETRY_AFTER_CONFLICT = 1
# PostgreSQL's "retry the transaction" SQLSTATEs: serialization failure, deadlock.
CONFLICT_SQLSTATES = {"40001", "40P01"}
API_PREFIX = "/api/"

_REMEMBERED = "_cashdrawer_database_outage"


def is_database_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError))


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


def _is_conflict(exc: BaseException) -> bool:
    return _sqlstate(exc) in CONFLICT_SQLSTATES


def _detail(exc: BaseException) -> str:
    if _is_conflict(exc):
        return _("The database could not finish this request because of another one; retry it.")
    return _("The database is not available right now; retry in a few seconds.")


def _retry_after(exc: BaseException) -> int:
    return RETRY_AFTER_CONFLICT if _is_conflict(exc) else RETRY_AFTER_OUTAGE


def _log(request: HttpRequest | None, exc: BaseException) -> None:
    # One warning line, no traceback: during an outage every request ends here, and the
    # cause is the database, not the code. The message names the server's error (which
    # may name the host or socket); the client never sees it.
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    logger.warning(
        "Database unavailable (%s%s) for %s %s: %s",
        type(exc.__cause__ or exc).__name__,
        f", SQLSTATE {_sqlstate(exc)}" if _sqlstate(exc) else "",
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        first_line,
    )


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def outage_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 for a database outage: JSON under /api/, else the short 503 page."""
    _log(request, exc)
    headers = {"Retry-After": str(_retry_after(exc))}
    if is_api_request(request):
        response = JsonResponse({"detail": _detail(exc), "code": CODE}, status=503, headers=headers)
    else:
        # No request, so no context processor runs: the page must not need the database.
        html = render_to_string("503.html")
        response = HttpResponse(html, status=503, headers=headers)
    # Logged above as a warning; keep django.request from logging it again as an error.
    response._has_been_logged = True
    return response


def api_outage_response(exc: BaseException, request: HttpRequest | None = None) -> Response:
    """The same 503 for a DRF view, from the API's exception handler."""
    _log(request, exc)
    response = Response(
        {"detail": _detail(exc), "code": CODE},
        status=503,
        headers={"Retry-After": str(_retry_after(exc))},
    )
    response._has_been_logged = True
    return response


def _remember_outage(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Django announces an exception it is about to turn into a 500: remember an outage."""
    exc = sys.exc_info()[1]
    if request is not None and is_database_outage(exc):
        setattr(request, _REMEMBERED, exc)


got_request_exception.connect(_remember_outage, dispatch_uid="cashdrawer.outage")


class OutageMiddleware:
    """Turns a database outage anywhere inside it into a 503.

    Place it outside every middleware that may touch the database (sessions,
    authentication, messages), so it also sees the 500 that Django made of an outage in
    one of them.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        exc = getattr(request, _REMEMBERED, None)
        if exc is not None and response.status_code == 500:
            return outage_response(request, exc)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_outage(exception):
            return outage_response(request, exception)
        return None


AUTO_REFRESH_HEADER = "X-Auto-Refresh"


def is_auto_refresh(request: HttpRequest) -> bool:
    """Whether a page asked for this by itself, not the person in front of it."""
    return request.headers.get(AUTO_REFRESH_HEADER) == "1"


class SessionRefreshMiddleware:
    """Moves a logged-in session's end along on every request that used it, so it ends
    after SESSION_COOKIE_AGE idle seconds rather than that long after the login.

    Django's SESSION_SAVE_EVERY_REQUEST does the same, but asks the session for its expiry
    on every answer, a 503 included: during a database outage that read fails once more
    and turns the 503 page into an error. Here a failed answer (5xx) leaves the session
    alone. Placed right after SessionMiddleware, whose response step runs after this one.

    The session is written only when its stored end would move by more than a minute
    (cashdrawer.session_store): most pages read it and write nothing.

    A request a page makes by itself (the Now page's refresh every 30 seconds) says so
    with the header `X-Auto-Refresh: 1` and is not activity: otherwise a Now page left
    open on a shared PC would keep its login alive for ever.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.accessed
            and response.status_code < 500
            and not session.is_empty()
            and not is_auto_refresh(request)
            and session.needs_refresh()
        ):
            session.modified = True
        return response
