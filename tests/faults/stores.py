"""The database side of a fault test: a fresh database per test on the run's PostgreSQL
server, the stores and terminals seeded into it, and the independent SQL that checks
what was stored (raw queries, not the app's selectors).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from sessions_app.models import TrackingSession, Transaction
from tests.faults.terminals import Sale
from tests.served import ROOT, ThrowawayPostgres

TEMPLATE = "cashdrawer"  # the database scripts/pg creates; migrated once, then copied
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def manage(url: str, *args: str, timeout: float = 120) -> str:
    """`manage.py ARGS` on the database at `url`; its stdout (fails loudly)."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def url_of(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


# The test's own connections, left out when counting the app's.
CHECKS = "cashdrawer-fault-checks"
APP_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name <> %s"
)


@dataclass
class Database:
    url: str
    name: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True, application_name=CHECKS)

    def sql(self, query: str, params: tuple | list = ()) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(query, params).fetchall()

    def connections(self) -> int:
        """The app's server connections to this database (the test's own left out)."""
        return self.sql(APP_CONNECTIONS, [self.name, CHECKS])[0][0]


@dataclass
class Postgres:
    """The run's PostgreSQL server, with a migrated template for each test's database."""

    server: ThrowawayPostgres
    _made: int = 0

    def migrate_template(self) -> None:
        manage(url_of(self.server.url, TEMPLATE), "migrate", "--noinput", timeout=300)

    def new_database(self, label: str) -> Database:
        self._made += 1
        name = f"faults_{self._made}_{label}"
        with psycopg.connect(url_of(self.server.url, "postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return Database(url_of(self.server.url, name), name)

    def down(self) -> None:
        self.server.down()

    def up(self) -> None:
        self.server.up()


@dataclass
class Till:
    """A register as its terminals know it."""

    register: int
    location: int
    tokens: list[str]
    session: int | None  # opened by hand in the seeding, else None
    opening_float: Decimal


SEED = """
import json
from django.contrib.auth import get_user_model
from cashdrawer.authentication import issue_device_token
from cashdrawer.models import Location, Membership, Register
from sessions_app.services import open_session

spec = json.loads(SPEC)
user = get_user_model().objects.create_user("fault-manager", password=None)
tills = []
for number in range(1, spec["locations"] + 1):
    location = Location.objects.create(
        name=f"Store {number}", currency="EUR", timezone="Europe/Amsterdam"
    )
    Membership.objects.create(user=user, location=location, role="manager")
    for till in range(1, spec["registers"] + 1):
        register = Register(
            location=location, name=f"Till {till}", code=f"t{till}", count_method="total"
        )
        register.full_clean()
        register.save()
        session = None
        if spec["opening_float"] is not None:
            session = open_session(register=register, opening_float=spec["opening_float"], by=user)
        tokens = [
            issue_device_token(register=register, by=user, name=f"terminal {n}").secret
            for n in range(1, spec["tokens"] + 1)
        ]
        tills.append({
            "register": register.pk,
            "location": location.pk,
            "tokens": tokens,
            "session": session.pk if session else None,
            "opening_float": str(session.opening_float) if session else "0.00",
        })
print("TILLS " + json.dumps(tills))
"""


def seed(
    database: Database,
    *,
    locations: int = 1,
    registers: int = 1,
    tokens: int = 1,
    opening_float: str | None = None,
) -> list[Till]:
    """Stores with registers and device tokens, through the app's own services, in a
    `manage.py shell` of its own (so the data is committed before the server reads it).
    `opening_float`: each register's session is opened by hand with it; else the first
    sale opens it (rule 2, opening float 0.00)."""
    spec = json.dumps(
        {
            "locations": locations,
            "registers": registers,
            "tokens": tokens,
            "opening_float": opening_float,
        }
    )
    out = manage(database.url, "shell", "-c", f"SPEC = {spec!r}\n{SEED}")
    line = next(line for line in out.splitlines() if line.startswith("TILLS "))
    return [
        Till(t["register"], t["location"], t["tokens"], t["session"], Decimal(t["opening_float"]))
        for t in json.loads(line.removeprefix("TILLS "))
    ]


# The running totals a session keeps, each the sum (or count) of some of its rows.
SUMMED = (
    "cash_sales",
    "cash_sales_count",
    "cash_refunds",
    "cash_refunds_count",
    "total_sales",
    "total_refunds",
)


@dataclass
class Stored:
    """What the database holds for one register, summed by SQL from the rows, next to the
    running totals its session keeps."""

    rows: int = 0
    ids: set[int] = field(default_factory=set)
    cash_sales: Decimal = Decimal("0.00")
    cash_sales_count: int = 0
    cash_refunds: Decimal = Decimal("0.00")
    cash_refunds_count: int = 0
    total_sales: Decimal = Decimal("0.00")
    total_refunds: Decimal = Decimal("0.00")
    by_method: dict[str, Decimal] = field(default_factory=dict)
    sessions: list[dict] = field(default_factory=list)


def transaction_rows(database: Database) -> int:
    return database.sql(f"SELECT count(*) FROM {Transaction._meta.db_table}")[0][0]


def stored(database: Database, registers: list[int]) -> dict[int, Stored]:
    transactions = Transaction._meta.db_table
    sessions = TrackingSession._meta.db_table
    found: dict[int, Stored] = defaultdict(Stored)
    rows = database.sql(
        f"SELECT register_id, id, kind, payment_method, amount FROM {transactions}"
        " WHERE register_id = ANY(%s)",
        [registers],
    )
    for register, pk, kind, method, amount in rows:
        entry = found[register]
        entry.rows += 1
        entry.ids.add(pk)
        cash = method == "cash"
        if kind == "sale":
            entry.total_sales += amount
            entry.by_method[method] = entry.by_method.get(method, Decimal("0.00")) + amount
            if cash:
                entry.cash_sales += amount
                entry.cash_sales_count += 1
        else:
            entry.total_refunds += amount
            if cash:
                entry.cash_refunds += amount
                entry.cash_refunds_count += 1
    columns = [
        "id",
        "register_id",
        "status",
        "opening_float",
        "cash_sales",
        "cash_sales_count",
        "cash_refunds",
        "cash_refunds_count",
        "total_sales",
        "total_refunds",
        "adjustments_in",
        "adjustments_out",
    ]
    for values in database.sql(
        f"SELECT {', '.join(columns)} FROM {sessions} WHERE register_id = ANY(%s) ORDER BY id",
        [registers],
    ):
        session = dict(zip(columns, values, strict=True))
        found[session["register_id"]].sessions.append(session)
    return {register: found[register] for register in registers}


def assert_each_sale_stored_once(database: Database, sales: list[Sale]) -> dict[int, Stored]:
    """Every sale got a 2xx, each its own row, each register's rows are exactly its sales,
    and the running totals of each register's one session are the sums of its rows."""
    by_register: dict[int, list[Sale]] = defaultdict(list)
    for sale in sales:
        by_register[sale.register].append(sale)
    found = stored(database, list(by_register))
    unsettled = [f"{s.key}: {s.final}" for s in sales if not (s.final and s.final.ok)]
    assert not unsettled, unsettled[:10]
    for register, mine in by_register.items():
        ids = [sale.final.data["id"] for sale in mine]
        entry = found[register]
        assert len(set(ids)) == len(ids), f"register {register}: two sales answered one row"
        assert entry.rows == len(mine), f"register {register}: {entry.rows} rows, {len(mine)} sent"
        assert entry.ids == set(ids), f"register {register}: rows not answered to any sale"
        sent = sum((s.amount for s in mine if _is_cash_sale(s.body)), Decimal("0.00"))
        assert entry.cash_sales == sent, f"register {register}: {entry.cash_sales} != {sent} sent"
        (session,) = entry.sessions
        assert session["status"] == "open"
        kept = {name: session[name] for name in SUMMED}
        summed = {name: getattr(entry, name) for name in SUMMED}
        assert kept == summed, f"register {register}: session keeps {kept}, rows sum to {summed}"
    return found


def _is_cash_sale(body: dict) -> bool:
    return body["kind"] == "sale" and body["payment_method"] == "cash"


class ConnectionWatch:
    """Samples the server connections to a database every `every` seconds, in a thread."""

    def __init__(self, database: Database, every: float = 0.05) -> None:
        self.database = database
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with self.database.connect() as conn:
            while not self._stop.is_set():
                count = conn.execute(APP_CONNECTIONS, [self.database.name, CHECKS]).fetchone()[0]
                self.samples.append((time.monotonic(), count))
                self._stop.wait(self.every)

    @property
    def most(self) -> int:
        return max((count for _, count in self.samples), default=0)
