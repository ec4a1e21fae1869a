"""The read replica, against a real one: a hot standby of the test server, made with
`pg_basebackup -R` (scripts/pg replica) and started beside it on a socket of its own.

How the tests see where a read went: the standby's WAL replay is paused
(`pg_wal_replay_pause()`), then a sale is recorded on the primary. A page that reads the
replica does not know the sale yet; one that reads the primary does. The queries of each
connection are captured too. Data is committed (transaction=True): a physical replica
sees nothing of a transaction that never commits.

The replica joins Django's connections as the `replica` alias, pointing at this worker's
test database on the standby (a database created on the primary arrives there through
replication), as DATABASE_REPLICA_URL would add it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cashdrawer import db_router
from cashdrawer.authentication import issue_device_token
from cashdrawer.models import Location
from sessions_app import services
from sessions_app.models import TrackingSession, Transaction

# The replica alias is one of the test's databases; a test mirror of default (as
# settings.py marks it), so the test runner never creates or flushes anything there.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

ROOT = Path(__file__).resolve().parent.parent
CATCH_UP_SECONDS = 60
LATE_SALE = Decimal("777.77")  # recorded while the replica's replay is paused


def _primary_socket_dir() -> Path:
    host = connections["default"].settings_dict.get("HOST") or ""
    directory = Path(host)
    if not (directory / "data" / "PG_VERSION").exists():
        pytest.fail(
            "The replica tests need the test server of scripts/pg (run them with "
            f"scripts/test or make test); DATABASE_URL's host {host!r} is not one."
        )
    return directory


@pytest.fixture(scope="session")
def standby(django_db_setup, django_db_blocker) -> Path:
    """A hot standby of the test server, for this worker's whole run; its socket dir."""
    if shutil.which("pg_basebackup") is None and not list(
        Path("/usr/lib/postgresql").glob("*/bin/pg_basebackup")
    ):
        pytest.fail("pg_basebackup is missing: install PostgreSQL's client programs.")
    with django_db_blocker.unblock():
        primary = _primary_socket_dir()
    directory = Path(tempfile.mkdtemp(prefix="cashdrawer-replica-"))
    script = str(ROOT / "scripts" / "pg")
    try:
        result = subprocess.run(
            [script, "replica", str(primary), str(directory)], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.fail(f"scripts/pg replica failed:\n{result.stderr}")
        yield directory
    finally:
        subprocess.run([script, "stop", str(directory)], check=False, capture_output=True)


def _control(standby: Path) -> psycopg.Connection:
    """A superuser connection to the standby's maintenance database."""
    return psycopg.connect(
        host=str(standby), user="cashdrawer", dbname="cashdrawer", autocommit=True
    )


def _catch_up(standby: Path) -> None:
    """Wait until the standby has replayed everything the primary wrote so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + CATCH_UP_SECONDS
    with _control(standby) as control:
        control.execute("SELECT pg_wal_replay_resume()")
        while True:
            row = control.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]
            ).fetchone()
            if row[0]:
                break
            if time.monotonic() > deadline:
                pytest.fail("The standby did not catch up with the primary.")
            time.sleep(0.05)
    # A connection to the replica that is still open may hold a snapshot from before.
    if db_router.REPLICA in connections.settings:
        connections[db_router.REPLICA].close()


def _until_the_replica_has(queryset) -> None:
    """Wait until rows the test made are visible on the replica (new snapshots each time)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while not queryset.using(db_router.REPLICA).exists():
        connections[db_router.REPLICA].close()
        if time.monotonic() > deadline:
            pytest.fail("The replica does not show what the primary committed.")
        time.sleep(0.05)


@contextlib.contextmanager
def _replay_paused(standby: Path):
    _catch_up(standby)
    with _control(standby) as control:
        control.execute("SELECT pg_wal_replay_pause()")
        # Paused means paused: nothing written after this is replayed.
        while control.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
            time.sleep(0.01)
    try:
        yield
    finally:
        with _control(standby) as control:
            control.execute("SELECT pg_wal_replay_resume()")


def _point_alias_at(host: str) -> None:
    replica = connections[db_router.REPLICA]
    replica.close()
    replica.settings_dict["HOST"] = host
    db_router.reset_replica_state()


@pytest.fixture(scope="module", autouse=True)
def replica_alias(standby, django_db_blocker):
    """The `replica` alias as settings.py adds it, on this worker's test database; before
    any test of this module starts, so that the tests may name it in their databases."""
    with django_db_blocker.unblock():
        default = connections["default"].settings_dict
        connections.settings[db_router.REPLICA] = {
            **default,
            "HOST": str(standby),
            "TEST": {"MIRROR": "default"},
            # Not the 5 s a replica gets in production: on the 2 busy cores of CI, a
            # connection to the standby once took longer, the router fell back to the
            # primary (as it must) and the test saw the primary's figures.
            "OPTIONS": {**default.get("OPTIONS", {}), "connect_timeout": 60},
        }
    db_router.reset_replica_state()
    yield
    with contextlib.suppress(Exception):
        connections[db_router.REPLICA].close()
    with contextlib.suppress(Exception):
        del connections[db_router.REPLICA]
    connections.settings.pop(db_router.REPLICA, None)
    db_router.reset_replica_state()


@pytest.fixture
def replica(standby, transactional_db):
    _catch_up(standby)
    _point_alias_at(str(standby))
    yield standby
    connections[db_router.REPLICA].close()


@pytest.fixture
def replica_down(standby, transactional_db, tmp_path):
    """A replica that is configured but does not answer: no server behind its socket."""
    _point_alias_at(str(tmp_path))
    yield
    _point_alias_at(str(standby))


# --- a store with one open session ---------------------------------------------------------


def _today_params(location) -> dict:
    today = timezone.localdate(timezone=location.tzinfo)
    return {
        "location": location.pk,
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
    }


def _sell(register, amount, manager, external_id):
    return services.record_transaction(
        register=register,
        kind="sale",
        payment_method="cash",
        amount=amount,
        external_id=external_id,
        by=manager,
    )


@pytest.fixture
def store(location, register, manager):
    """An open session with one sale of 12.50, committed."""
    services.open_session(register=register, opening_float=Decimal("150.00"), by=manager)
    _sell(register, Decimal("12.50"), manager, "first-sale")
    return TrackingSession.objects.get(register=register, status="open")


def _overview(client, location) -> str:
    response = client.get(
        reverse("reports:overview"), {**_today_params(location), "range": "custom"}
    )
    assert response.status_code == 200
    return response.content.decode()


def _cash_gross(client, location) -> str:
    response = client.get(reverse("report-cash-payments"), _today_params(location))
    assert response.status_code == 200, response.content
    return response.json()["gross"]


def _journal(client, location) -> tuple[str, CaptureQueriesContext, CaptureQueriesContext]:
    """The journal CSV, and the queries each connection ran while it streamed."""
    response = client.get(reverse("report-journal-csv"), _today_params(location))
    assert response.status_code == 200
    with (
        CaptureQueriesContext(connections[db_router.REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        body = b"".join(response.streaming_content).decode("utf-8-sig")
    return body, on_replica, on_primary


def _read(queries: CaptureQueriesContext, table: str) -> bool:
    return any(table in query["sql"] for query in queries.captured_queries)


# --- the tests -----------------------------------------------------------------------------


def test_inside_a_report_only_the_apps_tables_are_read_from_the_replica():
    router = db_router.ReplicaRouter()
    with db_router._reading(db_router.REPLICA):
        assert router.db_for_read(Transaction) == "replica"
        assert router.db_for_read(Location) == "replica"
        # Logins, sessions and the like must see a change at once.
        assert router.db_for_read(get_user_model()) == "default"
        assert router.db_for_read(Session) == "default"
        assert router.db_for_write(Transaction) == "default"
    assert router.db_for_read(Transaction) == "default"
    assert router.allow_migrate("replica", "sessions_app") is False


def test_reports_read_the_replica_and_the_session_page_the_primary(
    replica, store, register, location, manager, client
):
    _catch_up(replica)  # the store was made after the fixture caught up
    _until_the_replica_has(Transaction.objects.filter(external_id="first-sale"))
    client.force_login(manager)
    assert _cash_gross(client, location) == "12.50"

    with _replay_paused(replica):
        _sell(register, LATE_SALE, manager, "while-paused")

        # The reports do not know the sale: they read the (paused) replica...
        assert _cash_gross(client, location) == "12.50"
        assert "790.27" not in _overview(client, location)
        journal, on_replica, on_primary = _journal(client, location)
        assert "first-sale" in journal and "while-paused" not in journal
        # ...and the file was read there while it streamed, after the view had returned.
        assert _read(on_replica, "sessions_app_transaction")
        assert not _read(on_primary, "sessions_app_transaction")

        # The session page reads the primary: the sale is there.
        page = client.get(reverse("reports:session", args=[store.pk])).content.decode()
        assert "777.77" in page

    _catch_up(replica)
    assert _cash_gross(client, location) == "790.27"
    assert "790.27" in _overview(client, location)
    ready = client.get("/readyz").json()
    assert (ready["status"], ready["replica"]) == ("ok", "ok")


def test_the_overview_right_after_a_close_shows_the_close(
    replica, store, location, manager, make_user, client
):
    other_manager = make_user("mona", location=location, role="manager")
    _catch_up(replica)  # the store and the users were made after the fixture caught up
    client.force_login(manager)
    _overview(client, location)  # an overview read from the replica before the close

    with _replay_paused(replica):
        response = client.post(
            reverse("operations:close", args=[store.pk]),
            {"method": "total", "counted": "163.45", "retained_float": "150.00"},
        )
        assert response.status_code == 302
        store.refresh_from_db()
        assert store.status == "closed"

        # The page after the POST and the session page read the primary.
        assert "163.45" in client.get(response["Location"]).content.decode()
        assert "163.45" in client.get(reverse("reports:session", args=[store.pk])).content.decode()
        # The user who closed is pinned to the primary for a moment: the overview shows
        # the close although the replica has not replayed it...
        assert "163.45" in _overview(client, location)
        # ...while another manager's overview still reads the replica, a moment behind.
        client.force_login(other_manager)
        assert "163.45" not in _overview(client, location)

    _catch_up(replica)
    assert "163.45" in _overview(client, location)


def test_a_write_through_the_api_with_a_token_makes_no_login_session(
    replica, store, register, location, manager
):
    """The pin lives in a browser's session; an API client without one gets none made."""
    before = Session.objects.count()
    device = APIClient()
    secret = issue_device_token(register=register, by=manager).secret
    device.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    response = device.post(
        "/api/v1/transactions/",
        {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": "1.00"},
        format="json",
        headers={"Idempotency-Key": "replica-pin-1"},
    )
    assert response.status_code == 201, response.content
    assert Session.objects.count() == before


def test_reports_read_the_primary_when_the_replica_does_not_answer(
    replica_down, store, register, location, manager, client
):
    client.force_login(manager)
    _sell(register, LATE_SALE, manager, "latest")

    assert _cash_gross(client, location) == "790.27"
    assert "790.27" in _overview(client, location)
    response = client.get(reverse("report-journal-csv"), _today_params(location))
    assert response.status_code == 200
    assert "latest" in b"".join(response.streaming_content).decode("utf-8-sig")
    # Ready all the same: the replica's state is reported, the primary does the work.
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["replica"] == "unavailable"
