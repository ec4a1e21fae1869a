"""A database outage answers 503 with Retry-After, never 500, and the app recovers by itself.

Real outages, no mocked database: the connection pointed at a socket that does not exist,
a role over its connection limit ("too many connections", SQLSTATE 53300), a backend
terminated in the middle of a request (what a restart does to it), and errors PostgreSQL
raises with the SQLSTATEs of a deadlock and a serialization failure. Through gunicorn, a
PostgreSQL server stopped and started again: tests/test_serve.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from cashdrawer.authentication import issue_user_token
from cashdrawer.models import IdempotencyRecord
from sessions_app.models import CountLine, TrackingSession, Transaction

# --- views of this module's URLconf (pytest.mark.urls) -----------------------------------


def _raise_sqlstate(sqlstate: str) -> None:
    # A savepoint, as the services use: the test's own transaction stays usable.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$"
        )


def conflicting_page(request: HttpRequest, sqlstate: str) -> HttpResponse:
    _raise_sqlstate(sqlstate)
    return HttpResponse("unreachable")


class ConflictingApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request, sqlstate: str) -> Response:
        _raise_sqlstate(sqlstate)
        return Response({})


def session_writer(request: HttpRequest) -> HttpResponse:
    """Needs no database itself; the session middleware saves the session afterwards."""
    request.session["seen"] = True
    return HttpResponse("ok")


handler500 = "cashdrawer.error_reports.server_error"
urlpatterns = [
    path("conflict/<str:sqlstate>/", conflicting_page),
    path("api/conflict/<str:sqlstate>/", ConflictingApi.as_view()),
    path("session/", session_writer),
    path("api/session/", session_writer),
]


# --- helpers -------------------------------------------------------------------------------


@contextlib.contextmanager
def database_settings(**changes) -> Iterator[None]:
    """The default connection reconnects with these settings until the block ends."""
    saved = {name: connection.settings_dict.get(name) for name in changes}
    connection.close()
    connection.settings_dict.update(changes)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def unreachable_database():
    return database_settings(HOST="/nonexistent/cashdrawer-socket-dir")


def _assert_api_outage(response, retry_after: str = "5") -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["detail"]
    assert set(body) == {"detail", "code"}
    assert response["Retry-After"] == retry_after


def _assert_page_outage(response, retry_after: str = "5") -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == retry_after
    assert "Back in a moment" in response.content.decode()


def _errors(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def _sale(register, external_id: str) -> dict:
    return {
        "register": register.pk,
        "kind": "sale",
        "payment_method": "cash",
        "amount": "12.50",
        "external_id": external_id,
    }


# --- the database cannot be reached ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_while_the_database_is_unreachable_and_recovers(
    manager, register, caplog
):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_user_token(user=manager).secret}")

    with unreachable_database():
        _assert_api_outage(client.get("/api/v1/registers/"))
        _assert_api_outage(
            client.post(
                "/api/v1/transactions/",
                _sale(register, "r-1"),
                format="json",
                HTTP_IDEMPOTENCY_KEY="sale-1",
            )
        )

    # Back without a restart: the next request connects again.
    assert client.get("/api/v1/registers/").status_code == 200
    assert not Transaction.objects.exists()
    assert not _errors(caplog)
    warnings = [r for r in caplog.records if r.name == "cashdrawer.outage"]
    assert len(warnings) == 2
    assert "/api/v1/transactions/" in warnings[1].getMessage()


@pytest.mark.django_db(transaction=True)
def test_a_page_answers_the_503_page_while_the_database_is_unreachable(manager, caplog):
    client = Client()
    client.force_login(manager)

    with unreachable_database():
        # The view's login check reads the session and the user: both need the database.
        response = client.get("/")
        _assert_page_outage(response)
        assert "cashdrawer-socket-dir" not in response.content.decode()

    assert client.get("/").status_code == 302  # to the overview
    assert not _errors(caplog)


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls("tests.test_outage")
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(("url", "api"), [("/session/", False), ("/api/session/", True)])
def test_an_outage_inside_a_middleware_is_a_503_too(settings, debug, url, api):
    """Saving the session after the view fails; Django turns that into a 500 before any
    outer middleware sees it, with DEBUG off (handler500) and on (the debug page)."""
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)

    with unreachable_database():
        response = client.get(url)

    if api:
        _assert_api_outage(response)
    else:
        _assert_page_outage(response)


@pytest.mark.django_db(transaction=True)
def test_too_many_connections_is_a_503(manager):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_user_token(user=manager).secret}")
    role = f"cashdrawer_full_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    try:
        with database_settings(USER=role):
            _assert_api_outage(client.get("/api/v1/registers/"))  # SQLSTATE 53300
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE {role}")
    assert client.get("/api/v1/registers/").status_code == 200


# --- PostgreSQL asks for a retry ------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls("tests.test_outage")
@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_a_serialization_failure_or_deadlock_is_a_503_to_retry_at_once(sqlstate, caplog):
    _assert_api_outage(APIClient().get(f"/api/conflict/{sqlstate}/"), retry_after="1")
    _assert_page_outage(Client().get(f"/conflict/{sqlstate}/"), retry_after="1")
    assert not _errors(caplog)


# --- the connection is lost in the middle of a request -------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_post_cut_off_by_a_lost_connection_is_503_and_its_retry_lands_once(manager, register):
    """The sale waits on a lock, its backend is terminated (as a restart would): 503, and
    nothing of it stays. Retried with the same Idempotency-Key, it lands exactly once."""
    secret = issue_user_token(user=manager).secret
    sale = _sale(register, "receipt-503")
    answers: list = []
    retried = threading.Event()

    def terminal() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
        try:
            for _attempt in range(3):
                answers.append(
                    client.post(
                        "/api/v1/transactions/", sale, format="json", HTTP_IDEMPOTENCY_KEY="k-503"
                    )
                )
                if len(answers) == 1:
                    retried.wait(30)
        finally:
            from django.db import connections

            connections.close_all()

    holder = _second_connection()
    try:
        holder.execute(f"LOCK TABLE {Transaction._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=terminal)
        worker.start()
        pid = _wait_for_a_backend_waiting_on_a_lock()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        _wait_until(lambda: len(answers) == 1, "the cut-off request's answer")
    finally:
        holder.rollback()
        holder.close()
    retried.set()
    worker.join(30)

    first, retry, repeat = answers
    _assert_api_outage(first)
    assert retry.status_code == 201
    assert retry.get("Idempotent-Replayed") is None
    assert repeat.status_code == 201
    assert repeat["Idempotent-Replayed"] == "true"
    assert repeat.json() == retry.json()
    assert Transaction.objects.filter(external_id="receipt-503").count() == 1
    assert IdempotencyRecord.objects.filter(key="k-503").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_post_without_a_key_cut_off_after_its_effect_leaves_nothing(manager, register):
    """Without an Idempotency-Key too, a 503 means nothing happened: the session is opened,
    then the answer is read back and that read is cut off; the opening rolls back with it."""
    secret = issue_user_token(user=manager).secret
    answers: list = []

    def terminal() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
        try:
            body = {"register": register.pk, "opening_float": "150.00"}
            answers.append(client.post("/api/v1/sessions/", body, format="json"))
        finally:
            from django.db import connections

            connections.close_all()

    holder = _second_connection()
    try:
        # Opening by a total writes no count lines; reading the session back reads them.
        holder.execute(f"LOCK TABLE {CountLine._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        worker = threading.Thread(target=terminal)
        worker.start()
        pid = _wait_for_a_backend_waiting_on_a_lock()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        worker.join(30)
    finally:
        holder.rollback()
        holder.close()
    (answer,) = answers
    _assert_api_outage(answer)
    assert not TrackingSession.objects.filter(register=register).exists()


def _second_connection() -> psycopg.Connection:
    """A connection of its own to the test database, outside Django."""
    params = connection.settings_dict
    return psycopg.connect(
        dbname=params["NAME"],
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        host=params["HOST"] or None,
        port=params["PORT"] or None,
    )


def _wait_for_a_backend_waiting_on_a_lock() -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("no request waited on the lock")


def _wait_until(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
