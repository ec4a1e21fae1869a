"""The app behind PgBouncer in transaction pooling mode (Debian's pgbouncer 1.18, started
by scripts/pg pgbouncer in front of the test server, 4 server connections per database):
gunicorn with DATABASE_POOLING=transaction serves a part of the fault storm through it.

Terminals post sales from several threads with device tokens and Idempotency-Keys, some
sent again with the same key; meanwhile a reader downloads the journal and sessions CSVs
again and again. With more app threads than server connections, consecutive transactions
of one app connection land on different server connections: a server-side cursor that
outlived its transaction (WITH HOLD, Django's default outside one) would be looked for on
the wrong one. Every sale is recorded once, every file is complete, nothing answers 5xx.

The served database is this worker's test database (committed data: transaction=True).
"""

from __future__ import annotations

import csv
import http.client
import io
import os
import random
import subprocess
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from cashdrawer.authentication import issue_device_token, issue_user_token
from sessions_app import services
from sessions_app.models import TrackingSession, Transaction
from tests.faults.terminals import PATH, Tally, Terminal, run_all
from tests.served import ROOT, database_url, serve

pytestmark = pytest.mark.django_db(transaction=True)

POOL_SIZE = 4  # server connections per database and user
REGISTERS = 4
TERMINALS_PER_REGISTER = 2  # 8 terminals, one thread each
SALES_PER_TERMINAL = 30  # 240 sales
REPEAT_EVERY = 8  # every 8th sale is sent again with the same key (32 repeats)
PREVIOUS_SALES = 2100  # rows in the journal before the storm: more than one FETCH of 2000
TIME_LIMIT = 120


def _primary_socket_dir() -> Path:
    directory = Path(connection.settings_dict.get("HOST") or "")
    if not (directory / "data" / "PG_VERSION").exists():
        pytest.fail(
            "The PgBouncer tests need the test server of scripts/pg (run them with "
            f"scripts/test or make test); DATABASE_URL's host {str(directory)!r} is not one."
        )
    return directory


@pytest.fixture(scope="module")
def bouncer(django_db_setup, django_db_blocker):
    """PgBouncer in transaction mode in front of the test server; its socket directory."""
    with django_db_blocker.unblock():
        primary = _primary_socket_dir()
    directory = Path(tempfile.mkdtemp(prefix="cashdrawer-pgbouncer-"))
    script = str(ROOT / "scripts" / "pg")
    try:
        result = subprocess.run(
            [script, "pgbouncer", str(primary), str(directory)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PGBOUNCER_POOL_SIZE": str(POOL_SIZE)},
        )
        if result.returncode != 0:
            pytest.fail(
                f"scripts/pg pgbouncer failed (scripts/ensure-pgbouncer?):\n{result.stderr}"
            )
        yield directory
    finally:
        subprocess.run([script, "stop", str(directory)], check=False, capture_output=True)


def _admin(bouncer: Path, command: str) -> list[dict[str, str]]:
    """A command of PgBouncer's admin console (simple query protocol only), as rows."""
    with psycopg.connect(
        host=str(bouncer), port=6432, dbname="pgbouncer", user="cashdrawer", autocommit=True
    ) as admin:
        result = admin.pgconn.exec_(command.encode())
        names = [result.fname(column).decode() for column in range(result.nfields)]
        return [
            {
                name: (result.get_value(row, column) or b"").decode()
                for column, name in enumerate(names)
            }
            for row in range(result.ntuples)
        ]


def _through(bouncer: Path) -> str:
    """This worker's test database, reached through the pooler."""
    settings = {**connection.settings_dict, "HOST": str(bouncer), "PORT": "6432"}
    return database_url(settings) + "?application_name=cashdrawer-behind-pgbouncer"


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _day_params(location) -> str:
    today = timezone.localdate(timezone=location.tzinfo)
    return f"location={location.pk}&from={today.replace(day=1)}&to={today}"


@pytest.fixture
def chain(location, make_register, manager):
    """Four registers with open sessions; the first already has PREVIOUS_SALES sales."""
    registers = [make_register(location, count_method="total") for _ in range(REGISTERS)]
    for register in registers:
        services.open_session(register=register, opening_float=Decimal("100.00"), by=manager)
    session = TrackingSession.objects.get(register=registers[0], status="open")
    now = timezone.now()
    # Stored as the service stores a sale, in bulk (the service takes ~2 ms a row).
    Transaction.objects.bulk_create(
        Transaction(
            session=session,
            register=registers[0],
            kind="sale",
            payment_method="card",
            amount=Decimal("1.00"),
            occurred_at=now,
            received_at=now,
            external_id=f"before-{n:05d}",
            recorded_by=manager,
        )
        for n in range(PREVIOUS_SALES)
    )
    return registers


def test_the_storm_behind_pgbouncer_records_each_sale_once_and_streams_complete_files(
    bouncer, chain, location, manager
):
    rng = random.Random(12)
    terminals = [
        (register, issue_device_token(register=register, by=manager, name=f"t{n}").secret)
        for register in chain
        for n in range(TERMINALS_PER_REGISTER)
    ]
    user_token = issue_user_token(user=manager).secret
    browser = Client()
    browser.force_login(manager)
    page_cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    sales: dict[str, tuple[int, Decimal]] = {}  # key -> (register, amount)
    answers: dict[str, list] = {}
    lock = threading.Lock()
    tally = Tally("behind pgbouncer")
    storm_over = threading.Event()
    downloads: list[tuple[str, int | str, list[dict[str, str]]]] = []
    params = _day_params(location)

    with serve(_through(bouncer), workers=2, threads=4, DATABASE_POOLING="transaction") as server:

        def terminal(number: int, register, token: str):
            def run() -> None:
                own = Terminal(server.port, token, tally)
                for n in range(SALES_PER_TERMINAL):
                    key = f"bouncer-{number}-{n:03d}"
                    amount = Decimal(rng.randint(1, 9999)) / 100
                    body = {
                        "register": register.pk,
                        "kind": "sale",
                        "payment_method": "cash",
                        "amount": str(amount),
                    }
                    sends = 2 if n % REPEAT_EVERY == 0 else 1
                    for _ in range(sends):
                        answer, _attempts = own.settle(PATH, body, key)
                        with lock:
                            sales[key] = (register.pk, amount)
                            answers.setdefault(key, []).append(answer)
                own.close()

            return run

        def reader() -> None:
            auth = {"Authorization": f"Token {user_token}"}
            while not storm_over.is_set():
                for name in ("journal", "sessions"):
                    try:
                        status, _headers, body = server.get(
                            f"/api/v1/reports/{name}.csv?{params}", headers=auth, timeout=60
                        )
                    except (OSError, http.client.HTTPException) as error:
                        # A file cut off in the middle (the stream failed on the server).
                        status, body = f"cut off: {error!r}"[:200], b""
                    with lock:
                        downloads.append((name, status, _csv_rows(body) if status == 200 else []))

        jobs = [terminal(n, register, token) for n, (register, token) in enumerate(terminals)]

        def storm() -> None:
            try:
                run_all(jobs, timeout=TIME_LIMIT)
            finally:
                storm_over.set()

        tally.restart_clock()
        run_all([storm, reader], timeout=TIME_LIMIT + 60)
        tally.stop_clock()

        # After the storm: the files, the pages.
        auth = {"Authorization": f"Token {user_token}"}
        status, _, body = server.get(f"/api/v1/reports/journal.csv?{params}", headers=auth)
        assert status == 200
        journal = _csv_rows(body)
        status, _, body = server.get(f"/api/v1/reports/sessions.csv?{params}", headers=auth)
        assert status == 200
        sessions_file = _csv_rows(body)
        session_pk = TrackingSession.objects.get(register=chain[1], status="open").pk
        for path in (
            f"/overview/?{params}&range=custom",
            f"/sessions/{session_pk}/",
            "/now/",
            "/registers/",
        ):
            status, _, body = server.get(path, headers=page_cookie)
            assert status == 200, (path, status, body[-500:])
        pools = _admin(bouncer, "SHOW POOLS")
        error_log = server.error_log()

    # Every send answered 201, a repeat with the first's body; nothing 5xx, no traceback.
    assert tally.server_errors == 0, tally.figures()
    assert all(answer.status == 201 for sent in answers.values() for answer in sent), [
        str(answer) for sent in answers.values() for answer in sent if answer.status != 201
    ]
    assert all(len({answer.body for answer in sent}) == 1 for sent in answers.values())
    repeats = len(terminals) * len(range(0, SALES_PER_TERMINAL, REPEAT_EVERY))
    assert sum(len(sent) for sent in answers.values()) == len(sales) + repeats
    assert "Traceback" not in error_log, error_log[-3000:]

    # Each sale recorded once: the rows in the database are the keys' answers.
    stored = Transaction.objects.filter(payment_method="cash").values_list("id", "amount")
    answered = {sent[0].data["id"]: Decimal(sent[0].data["amount"]) for sent in answers.values()}
    assert dict(stored) == answered
    assert len(answered) == len(terminals) * SALES_PER_TERMINAL

    # The journal after the storm: every row before it and every sale of the storm, once.
    sale_rows = [row for row in journal if row["type"] == "sale"]
    assert len(sale_rows) == PREVIOUS_SALES + len(answered)
    assert {int(row["record_id"]) for row in sale_rows} == set(
        Transaction.objects.values_list("id", flat=True)
    )
    assert [row["at"] for row in journal] == sorted(row["at"] for row in journal)
    assert len(sessions_file) == REGISTERS
    # The downloads during the storm were whole files: each ends with a complete row and
    # holds at least the sales from before the storm.
    assert downloads and all(status == 200 for _, status, _ in downloads), [
        (name, status) for name, status, _ in downloads
    ]
    for name, _status, rows in downloads:
        if name == "journal":
            assert len(rows) >= PREVIOUS_SALES
            assert all(row["received_at"] for row in rows)
        else:
            assert len(rows) == REGISTERS

    # The pooler did the pooling: never more server connections than its pool.
    ours = [pool for pool in pools if pool["database"] == connection.settings_dict["NAME"]]
    assert ours
    assert all(
        int(pool["sv_active"]) + int(pool["sv_idle"]) + int(pool["sv_used"]) <= POOL_SIZE
        for pool in ours
    )
    print(tally.figures(downloads=len(downloads)))


SETUP = "import django, os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'cashdrawer.settings'\n"
SHOW_DATABASES = """django.setup()
from django.conf import settings
default, replica = settings.DATABASES["default"], settings.DATABASES["replica"]
print(default["OPTIONS"]["prepare_threshold"], default.get("DISABLE_SERVER_SIDE_CURSORS", False),
      replica["HOST"], replica["TEST"]["MIRROR"], replica["OPTIONS"]["connect_timeout"],
      replica["OPTIONS"]["prepare_threshold"], settings.REPLICA_PIN_SECONDS)
"""


def _settings_of(**env: str) -> subprocess.CompletedProcess:
    environ = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "k" * 50,
        "DATABASE_URL": "postgres://cashdrawer@%2Fpooler:6432/cashdrawer?prepare_threshold=5",
        **env,
    }
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", SETUP + SHOW_DATABASES],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_pooling_transaction_keeps_prepared_statements_off_and_cursors_on():
    result = _settings_of(
        DATABASE_POOLING="transaction",
        DATABASE_REPLICA_URL="postgres://cashdrawer@%2Freplica/cashdrawer",
        REPLICA_PIN_SECONDS="7",
    )
    assert result.returncode == 0, result.stderr
    # Prepared statements off (even though the URL asked for them), server-side cursors
    # on (the downloads stream in one transaction), the replica like the primary.
    assert result.stdout.split() == ["None", "False", "/replica", "default", "5", "None", "7"]

    refused = _settings_of(DATABASE_POOLING="statement")
    assert refused.returncode != 0
    assert "DATABASE_POOLING must be session or transaction" in refused.stderr
