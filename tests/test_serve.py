"""The production server: scripts/serve refuses a setup that is not production's, and
gunicorn really serves the back-office, static files and the API, stops gracefully, and
answers 503 while PostgreSQL restarts, recovering by itself afterwards.

The served database is this worker's test database (committed data: transaction=True),
named by `application_name` so its connections can be counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from django.db import connection

from cashdrawer.authentication import issue_user_token
from cashdrawer.models import Location
from tests.served import ROOT, database_url, serve, throwaway_postgres

APP_NAME = "cashdrawer-served-test"


def _served_url() -> str:
    return database_url(connection.settings_dict) + f"?application_name={APP_NAME}"


def _server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
        )
        return cursor.fetchone()[0]


def _run_serve(**env) -> subprocess.CompletedProcess:
    environ = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": "postgres://cashdrawer@localhost/cashdrawer",
        "ALLOWED_HOSTS": "cash.example.com",
    }
    environ.update(env)
    environ = {name: value for name, value in environ.items() if value is not None}
    return subprocess.run(
        [str(ROOT / "scripts" / "serve")],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "sqlite:///var/cashdrawer.sqlite3"}, "does not point at PostgreSQL"),
        ({"DEBUG": "1"}, "DEBUG is on"),
        ({"DEBUG": " Yes "}, "DEBUG is on"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is not set"),
    ],
)
def test_serve_refuses_a_setup_that_is_not_production_and_says_why_in_one_line(env, says):
    result = _run_serve(**env)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("serve: ")
    assert says in result.stderr
    assert result.stdout == ""  # refused before migrate or gunicorn


def test_serve_starts_with_debug_explicitly_off():
    # DEBUG=0 (what scripts/test exports) is production's value, not a refusal; the
    # unreachable database then stops migrate, after the checks passed.
    result = _run_serve(DEBUG="0", DATABASE_URL="postgres://nobody@%2Fnonexistent/none")
    assert result.returncode != 0
    assert "serve:" not in result.stderr


def test_a_worker_imports_every_view_before_its_first_request():
    """The WSGI module gunicorn loads in each worker imports the URLconf (and the views)
    itself: left to Django's first request, that made each fresh worker's first answer
    about 320 ms slower."""
    program = (
        "import sys, cashdrawer.wsgi;"
        " print(all(m in sys.modules for m in"
        " ('cashdrawer.urls', 'reports.views', 'sessions_app.api', 'reports.journal_copy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_pages_static_files_health_and_the_api(manager, location):
    token = issue_user_token(user=manager).secret
    auth = {"Authorization": f"Token {token}"}

    with serve(_served_url(), workers=2, threads=2) as server:
        status, headers, body = server.get("/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, _, body = server.get("/readyz")
        assert status == 200
        assert json.loads(body) == {"status": "ok", "database": "ok", "migrations": "ok"}

        status, headers, body = server.get("/login/")
        assert status == 200
        assert headers["content-type"].startswith("text/html")
        assert b"Cashdrawer" in body

        status, headers, body = server.get("/static/css/app.css")  # WhiteNoise, DEBUG off
        assert status == 200
        assert headers["content-type"].startswith("text/css")
        assert b"--brand" in body

        status, _, body = server.get("/api/v1/locations/", headers=auth)
        assert status == 200
        assert [row["name"] for row in json.loads(body)["results"]] == ["Amsterdam"]

        # Many requests at once: the connections stay within workers x threads.
        results: list[int] = []

        def probe() -> None:
            results.append(server.get("/api/v1/locations/", headers=auth)[0])

        threads = [threading.Thread(target=probe) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [200] * 16
        assert 1 <= _server_connections() <= 2 * 2

        # A worker writes the access line after the answer has left: stop the server
        # (which lets every worker finish) before reading the logs.
        assert server.terminate() == 0
        access_log, error_log = server.access_log(), server.error_log()

    # One access line per request, with its duration; the successful probes left out.
    assert '"GET /login/ HTTP/1.1" 200' in access_log
    assert '"GET /static/css/app.css HTTP/1.1" 200' in access_log
    assert access_log.count('"GET /api/v1/locations/ HTTP/1.1" 200') == 17
    assert "ms " in access_log
    assert "/healthz" not in access_log
    assert "/readyz" not in access_log
    assert " ERROR " not in error_log
    assert "Traceback" not in error_log
    assert "Booting worker" in error_log


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(manager, location):
    token = issue_user_token(user=manager).secret
    auth = {"Authorization": f"Token {token}"}

    with serve(_served_url(), workers=1, threads=2) as server:
        answers: list[tuple[int, bytes]] = []
        # Hold the locations table: the request below waits for it, in flight.
        holder = psycopg.connect(database_url(connection.settings_dict))
        try:
            holder.execute(f"LOCK TABLE {Location._meta.db_table} IN ACCESS EXCLUSIVE MODE")

            def in_flight() -> None:
                status, _, body = server.get("/api/v1/locations/", headers=auth)
                answers.append((status, body))

            request = threading.Thread(target=in_flight)
            request.start()
            _wait_for(lambda: _waiting_on_a_lock() == 1, "the request to wait on the lock")

            server.process.send_signal(signal.SIGTERM)
            time.sleep(1)
            assert server.process.poll() is None  # still finishing the request
            # A new request is not served any more (refused, or left unanswered in the
            # kernel's queue until the worker exits).
            with pytest.raises(OSError):
                server.get("/healthz", timeout=2)
        finally:
            holder.rollback()  # the request goes on
            holder.close()
        request.join(30)
        status = server.process.wait(30)

        assert answers and answers[0][0] == 200, server.error_log()
        assert [row["name"] for row in json.loads(answers[0][1])["results"]] == ["Amsterdam"]
        assert status == 0
        assert "Traceback" not in server.error_log()


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND wait_event_type = 'Lock'",
            [APP_NAME],
        )
        return cursor.fetchone()[0]


def _wait_for(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- the database server restarts under the running server ----------------------------------------

SETUP = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from cashdrawer.authentication import issue_user_token
from cashdrawer.models import Location, Membership, Register
location = Location.objects.create(name="Outage", currency="EUR", timezone="Europe/Amsterdam")
register = Register(location=location, name="Till", code="till", count_method="total")
register.full_clean()
register.save()
user = get_user_model().objects.create_user("olga", password=None)
Membership.objects.create(user=user, location=location, role="manager")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(issue_user_token(user=user).secret, register.pk, session.session_key)
"""


def test_the_server_answers_503_while_postgresql_restarts_and_recovers_without_a_restart():
    with throwaway_postgres() as pg, serve(pg.url, workers=1, threads=2) as server:
        env = {**os.environ, "DATABASE_URL": pg.url, "DEBUG": "0"}
        setup = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", SETUP],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert setup.returncode == 0, setup.stderr
        secret, register, session_key = setup.stdout.split()[-3:]
        auth = {"Authorization": f"Token {secret}"}
        page = {"Cookie": f"sessionid={session_key}"}
        sale = {
            "register": int(register),
            "kind": "sale",
            "payment_method": "cash",
            "amount": "3.20",
            "external_id": "while-down",
        }
        master = server.process.pid
        assert server.get("/api/v1/registers/", headers=auth)[0] == 200
        assert server.get("/", headers=page)[0] == 302

        pg.down()
        started = time.monotonic()
        status, headers, body = server.get("/readyz")
        assert (status, json.loads(body)["database"]) == (503, "unavailable")
        assert server.get("/healthz")[0] == 200  # the process is fine
        status, headers, body = server.get("/api/v1/registers/", headers=auth)
        assert (status, json.loads(body)["code"], headers["retry-after"]) == (
            503,
            "database_unavailable",
            "5",
        )
        status, headers, body = server.post(
            "/api/v1/transactions/", sale, headers={**auth, "Idempotency-Key": "down-1"}
        )
        assert (status, json.loads(body)["code"]) == (503, "database_unavailable")
        status, headers, body = server.get("/", headers=page)
        assert (status, headers["retry-after"]) == (503, "5")
        assert b"Back in a moment" in body
        assert time.monotonic() - started < 5  # each outage answer is quick

        pg.up()
        assert server.get("/readyz")[0] == 200
        first = server.post(
            "/api/v1/transactions/", sale, headers={**auth, "Idempotency-Key": "down-1"}
        )
        again = server.post(
            "/api/v1/transactions/", sale, headers={**auth, "Idempotency-Key": "down-1"}
        )
        assert first[0] == 201
        assert (again[0], again[1]["idempotent-replayed"]) == (201, "true")
        listed = json.loads(
            server.get(f"/api/v1/transactions/?register={register}", headers=auth)[2]
        )
        assert listed["count"] == 1
        assert server.get("/", headers=page)[0] == 302
        assert server.process.pid == master and server.process.poll() is None

        error_log = server.error_log()
    assert "Traceback" not in error_log
    assert " ERROR " not in error_log
    assert "WARNING [" in error_log and "Database unavailable" in error_log
