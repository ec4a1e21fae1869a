"""What a person reads, through the served app over real HTTP (gunicorn as `make serve`
runs it): the cash journal CSV beside PostgreSQL's own COPY of the same join, the
overviews and the report API, the session list by discrepancy, and a session page of
2,000 transactions with its close.

Times are whole requests measured by the client on loopback, on one kept-alive
connection, after one warm-up request: p50 and p99 of RUNS requests (with 20 or 30 runs, p99 is
the slowest). The SQL query count of each page comes from one more request
through Django's test Client in this process (CaptureQueriesContext), on the same data.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.served import HOST, Served, rss
from cashdrawer.authentication import issue_user_token
from cashdrawer.models import Location, Membership, Register
from reports.selectors import sessions_in_range
from sessions_app import services
from sessions_app.models import TrackingSession

BENCH_LOCATION = "Bench terminals"  # the ingest's and the big sessions' own location


@dataclass
class Figure:
    name: str
    p50_ms: float
    p99_ms: float
    runs: int
    size: int = 0  # bytes of one answer
    queries: int | None = None
    sessions: int | None = None  # sessions in the range, for the plot

    def line(self) -> str:
        text = f"p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  ({self.runs} runs"
        if self.queries is not None:
            text += f", {self.queries} queries"
        if self.sessions is not None:
            text += f", {self.sessions:,} sessions"
        return text + f", {self.size / 1024:.0f} KB)"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0


# --- who reads ---------------------------------------------------------------------------


@dataclass
class Readers:
    """The bench's own users: a superuser (the whole chain) and the manager of one store,
    each with a browser session cookie and a user token."""

    store: Location  # the store the one-location figures are of
    chain: list[Location]
    admin_cookie: str
    admin_token: str
    manager: object
    manager_cookie: str
    manager_token: str
    manager_client: Client  # logged in, for the query counts
    admin_client: Client


def readers() -> Readers:
    User = get_user_model()
    chain = list(Location.objects.exclude(name=BENCH_LOCATION).order_by("pk"))
    store = chain[0]
    admin, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    manager, _ = User.objects.get_or_create(
        username="bench-manager", defaults={"first_name": "Bench", "last_name": "Manager"}
    )
    Membership.objects.get_or_create(
        user=manager, location=store, defaults={"role": Membership.Role.MANAGER}
    )
    admin_client, manager_client = Client(), Client()
    admin_client.force_login(admin)
    manager_client.force_login(manager)
    cookie = settings.SESSION_COOKIE_NAME
    return Readers(
        store=store,
        chain=chain,
        admin_cookie=admin_client.cookies[cookie].value,
        admin_token=issue_user_token(user=admin, name="bench").secret,
        manager=manager,
        manager_cookie=manager_client.cookies[cookie].value,
        manager_token=issue_user_token(user=manager, name="bench").secret,
        manager_client=manager_client,
        admin_client=admin_client,
    )


def cookie_headers(value: str) -> dict[str, str]:
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={value}"}


def token_headers(secret: str) -> dict[str, str]:
    return {"Authorization": f"Token {secret}"}


# --- timed requests ------------------------------------------------------------------------


def timed_get(served: Served, name: str, path: str, headers: dict[str, str], runs: int) -> Figure:
    """GET `path` once to warm up, then `runs` timed times on one kept-alive connection."""
    conn = served.connection()
    sent = {"Host": HOST, **headers}
    seconds: list[float] = []
    size = 0
    try:
        for run in range(runs + 1):
            start = time.perf_counter()
            conn.request("GET", path, headers=sent)
            response = conn.getresponse()
            body = response.read()
            took = time.perf_counter() - start
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
            if response.will_close:
                conn.close()
            if run:
                seconds.append(took)
                size = len(body)
    finally:
        conn.close()
    p50, p99 = percentile(seconds, 0.5), percentile(seconds, 0.99)
    return Figure(name, p50 * 1000, p99 * 1000, runs, size)


def query_count(client: Client, path: str, **headers: str) -> int:
    client.get(path, headers=headers)  # warm: caches, the session row
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(path, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(f"test Client GET {path}: {answer.status_code}")
    if getattr(answer, "streaming", False):
        b"".join(answer.streaming_content)
    return len(queries)


def overview_path(location: Location | None, first: dt.date, last: dt.date, **extra) -> str:
    params = {"location": location.pk if location else "all", "range": "custom"}
    params.update({"from": first.isoformat(), "to": last.isoformat(), **extra})
    return f"/overview/?{urlencode(params)}"


def report_path(name: str, location: Location | None, first: dt.date, last: dt.date) -> str:
    params = {"location": location.pk} if location else {}
    params.update({"from": first.isoformat(), "to": last.isoformat()})
    return f"/api/v1/reports/{name}?{urlencode(params)}"


def data_range() -> tuple[dt.date, dt.date]:
    """The first and last local day with sessions (of the chain, the bench's own left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(opened_at), max(opened_at) FROM sessions_app_trackingsession s"
            " JOIN cashdrawer_location l ON l.id = s.location_id WHERE l.name <> %s",
            [BENCH_LOCATION],
        )
        first, last = cursor.fetchone()
    return first.date(), last.date()


# --- overviews ------------------------------------------------------------------------------


def overviews(served: Served, who: Readers, runs: int) -> dict[str, Figure]:
    first_day, last = data_range()

    def back(days: int) -> dt.date:
        return max(first_day, last - dt.timedelta(days=days - 1))

    month, year = back(31), back(365)
    store, chain = who.store, who.chain
    manager, admin = cookie_headers(who.manager_cookie), cookie_headers(who.admin_cookie)
    api = token_headers(who.manager_token)
    sessions_cache: dict[tuple, int] = {}

    def sessions(locations: list[Location], first: dt.date) -> int:
        key = (tuple(loc.pk for loc in locations), first)
        if key not in sessions_cache:
            sessions_cache[key] = sessions_in_range(locations, first, last).count()
        return sessions_cache[key]

    pages_of_store_year = -(-sessions([store], year) // 25)
    page = min(50, pages_of_store_year)
    plan = [
        # key, name, path, headers, client (for the query count), locations, first day
        ("store_month_page", "overview page, one location, month",
         overview_path(store, month, last), manager, who.manager_client, [store], month),
        ("store_year_page", "overview page, one location, year",
         overview_path(store, year, last), manager, who.manager_client, [store], year),
        ("chain_year_page", f"overview page, all {len(chain)} locations, year",
         overview_path(None, year, last), admin, who.admin_client, chain, year),
        ("store_month_api", "report API discrepancy/, one location, month",
         report_path("discrepancy/", store, month, last), api, who.manager_client, [store], month),
        ("store_year_api", "report API discrepancy/, one location, year",
         report_path("discrepancy/", store, year, last), api, who.manager_client, [store], year),
        ("store_year_cash_api", "report API cash-payments/, one location, year",
         report_path("cash-payments/", store, year, last), api, who.manager_client, [store], year),
        ("store_year_list_1", "session list by discrepancy, one location, year, page 1",
         overview_path(store, year, last, ordering="total_discrepancy"),
         manager, who.manager_client, [store], year),
        (f"store_year_list_{page}",
         f"session list by discrepancy, one location, year, page {page}",
         overview_path(store, year, last, ordering="total_discrepancy", page=page),
         manager, who.manager_client, [store], year),
        ("chain_year_list_1", "session list by discrepancy, all locations, year, page 1",
         overview_path(None, year, last, ordering="total_discrepancy"),
         admin, who.admin_client, chain, year),
        ("chain_year_list_50", "session list by discrepancy, all locations, year, page 50",
         overview_path(None, year, last, ordering="total_discrepancy", page=50),
         admin, who.admin_client, chain, year),
    ]  # fmt: skip
    figures: dict[str, Figure] = {}
    for key, name, path, headers, client, locations, first in plan:
        figure = timed_get(served, name, path, headers, runs)
        extra = headers if "Authorization" in headers else {}
        figure.queries = query_count(client, path, **extra)
        figure.sessions = sessions(locations, first)
        figures[key] = figure
        print(f"  {name:62s} {figure.line()}", flush=True)
    return figures


def overview_curve(
    served: Served, who: Readers, runs: int, measured: dict[str, Figure]
) -> list[Figure]:
    """The overview page's p50 against the sessions in its range, for the first plot: one
    location over a week, a month, a quarter, a year; a tenth of the chain's locations
    and all of them over a year. (Several locations are read as the superuser's "all"
    would be, by a user who reads exactly those.)"""
    first_day, last = data_range()

    def back(days: int) -> dt.date:
        return max(first_day, last - dt.timedelta(days=days - 1))

    store, chain = who.store, who.chain
    User = get_user_model()
    tenth = chain[: max(2, len(chain) // 10)]
    reader, _ = User.objects.get_or_create(username="bench-area-manager")
    for location in tenth:
        Membership.objects.get_or_create(
            user=reader, location=location, defaults={"role": Membership.Role.MANAGER}
        )
    area = Client()
    area.force_login(reader)
    area_cookie = cookie_headers(area.cookies[settings.SESSION_COOKIE_NAME].value)
    manager, admin = cookie_headers(who.manager_cookie), cookie_headers(who.admin_cookie)
    points = [
        ("one location, a week", [store], back(7), manager, None),
        ("one location, a month", [store], back(31), manager, "store_month_page"),
        ("one location, a quarter", [store], back(92), manager, None),
        ("one location, a year", [store], back(365), manager, "store_year_page"),
        (f"{len(tenth)} locations, a year", tenth, back(365), area_cookie, None),
        (f"all {len(chain)} locations, a year", chain, back(365), admin, "chain_year_page"),
    ]
    curve: list[Figure] = []
    seen: set[tuple] = set()
    for name, locations, first, headers, already in points:
        key = (tuple(location.pk for location in locations), first)
        if key in seen:  # a range the data does not reach: the same as a shorter one
            continue
        seen.add(key)
        if already in measured:
            figure = measured[already]
            curve.append(Figure(name, figure.p50_ms, figure.p99_ms, figure.runs,
                                figure.size, figure.queries, figure.sessions))  # fmt: skip
            continue
        location = locations[0] if len(locations) == 1 else None
        figure = timed_get(served, name, overview_path(location, first, last), headers, runs)
        figure.sessions = sessions_in_range(locations, first, last).count()
        curve.append(figure)
        print(f"  overview page, {name:47s} {figure.line()}", flush=True)
    return curve


# --- the cash journal ------------------------------------------------------------------------


@dataclass
class Download:
    rows: int
    seconds: float
    first_byte_ms: float
    growth_mb: float  # the most any worker's resident memory grew during the download
    size: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0


def download(served: Served, path: str, headers: dict[str, str]) -> Download:
    """Stream `path` to the end, as a client would, keeping none of it; sample the
    workers' memory meanwhile (every 50 ms)."""
    workers = served.workers()
    before = {pid: rss(pid) for pid in workers}
    peak = dict(before)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            for pid in workers:
                peak[pid] = max(peak[pid], rss(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = served.connection(timeout=3600)
    lines = size = 0
    try:
        start = time.perf_counter()
        conn.request("GET", path, headers={"Host": HOST, **headers})
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {response.read()[:300]!r}")
        chunk = response.read1(65536)
        first_byte = time.perf_counter() - start
        shown = time.perf_counter()
        while chunk:
            size += len(chunk)
            lines += chunk.count(b"\n")
            chunk = response.read1(65536)
            if time.perf_counter() - shown > 15:
                shown = time.perf_counter()
                took = shown - start
                rate = lines / took
                print(f"    {lines:,} rows in {took:.0f} s ({rate:,.0f} rows/s)", flush=True)
        seconds = time.perf_counter() - start
    finally:
        conn.close()
        done.set()
        sampler.join()
    growth = max((peak[pid] - before[pid] for pid in workers), default=0)
    return Download(lines - 1, seconds, first_byte * 1000, growth / 2**20, size)


def first_byte_ms(served: Served, path: str, headers: dict[str, str]) -> float:
    """Milliseconds to the first byte of the body; then the client goes away."""
    conn = served.connection(timeout=600)
    try:
        start = time.perf_counter()
        conn.request("GET", path, headers={"Host": HOST, **headers})
        response = conn.getresponse()
        response.read1(1)
        return (time.perf_counter() - start) * 1000
    finally:
        conn.close()


# The journal's join, as one statement for COPY: transactions, adjustments and closing
# transfers of the sessions opened in the range (local days of each location), with the
# location, register, session and staff names, times in the location's zone with their
# offset (a positive one, as in the bench's European stores), in the journal's order.
JOURNAL_COPY = """
COPY (
WITH s AS (
    SELECT ts.id FROM sessions_app_trackingsession ts
    JOIN cashdrawer_location l ON l.id = ts.location_id
    WHERE ts.opened_at >= ('{first}'::date)::timestamp AT TIME ZONE l.timezone
      AND ts.opened_at < ('{last}'::date + 1)::timestamp AT TIME ZONE l.timezone
), j AS (
    SELECT t.occurred_at AS at, 0 AS rank, t.id AS record_id, t.session_id,
           t.kind::text AS type, t.payment_method, t.amount,
           t.recorded_by_id AS user_id, t.recorded_by_device_id AS device_id,
           NULL::text AS reason, t.external_id, t.late, t.received_at,
           NULL::bigint AS to_session
    FROM sessions_app_transaction t JOIN s ON s.id = t.session_id
    UNION ALL
    SELECT a.created_at, 1, a.id, a.session_id, 'adjustment_' || a.direction, NULL,
           a.amount, a.created_by_id, a.created_by_device_id, a.reason, NULL, NULL, NULL,
           NULL
    FROM sessions_app_adjustment a JOIN s ON s.id = a.session_id
    UNION ALL
    SELECT c.created_at, 2, c.id, c.sub_session_id, 'closing_transfer', NULL, c.amount,
           c.created_by_id, c.created_by_device_id, NULL, NULL, NULL, NULL,
           c.main_session_id
    FROM sessions_app_closingtransfer c JOIN s ON s.id = c.sub_session_id
)
SELECT to_char(j.at AT TIME ZONE l.timezone, 'YYYY-MM-DD"T"HH24:MI:SS')
           || '+' || to_char((j.at AT TIME ZONE l.timezone) - (j.at AT TIME ZONE 'UTC'),
                             'HH24:MI') AS at,
       l.name, l.currency, r.name, j.session_id, j.type, j.record_id, j.payment_method,
       j.amount,
       COALESCE(NULLIF(btrim(u.first_name || ' ' || u.last_name), ''), u.username,
                d.name || ' (device)'),
       j.reason, j.external_id,
       CASE WHEN j.late THEN 'true' WHEN NOT j.late THEN 'false' END,
       to_char(j.received_at AT TIME ZONE l.timezone, 'YYYY-MM-DD"T"HH24:MI:SS'),
       tr.name, j.to_session
FROM j
JOIN sessions_app_trackingsession ss ON ss.id = j.session_id
JOIN cashdrawer_register r ON r.id = ss.register_id
JOIN cashdrawer_location l ON l.id = ss.location_id
LEFT JOIN auth_user u ON u.id = j.user_id
LEFT JOIN cashdrawer_apitoken d ON d.id = j.device_id
LEFT JOIN sessions_app_trackingsession ts ON ts.id = j.to_session
LEFT JOIN cashdrawer_register tr ON tr.id = ts.register_id
ORDER BY j.at, j.rank, j.record_id
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def copy_journal(database_url: str, first: dt.date, last: dt.date) -> Download:
    """PostgreSQL's own COPY of the journal's join, read to the end through psycopg."""
    lines = size = 0
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        start = time.perf_counter()
        first_byte = None
        statement = JOURNAL_COPY.format(first=first.isoformat(), last=last.isoformat())
        with cursor.copy(statement) as copy:
            for data in copy:
                if first_byte is None:
                    first_byte = time.perf_counter() - start
                size += len(data)
                lines += bytes(data).count(b"\n")
        seconds = time.perf_counter() - start
    return Download(lines - 1, seconds, (first_byte or seconds) * 1000, 0, size)


def journal(served: Served, who: Readers, database_url: str) -> dict[str, object]:
    first, last = data_range()
    admin = token_headers(who.admin_token)
    path = report_path("journal.csv", None, first, last)
    print(f"  journal.csv, all {len(who.chain)} locations, {first} to {last} ...", flush=True)
    served_download = download(served, path, admin)
    print(
        f"  {'served by the app':36s} {served_download.rows:11,d} rows"
        f" {served_download.rows_per_s:10,.0f} rows/s  first byte"
        f" {served_download.first_byte_ms:7.0f} ms  worker memory"
        f" +{served_download.growth_mb:.0f} MB  ({served_download.size / 2**20:.0f} MB)",
        flush=True,
    )
    copied = copy_journal(database_url, first, last)
    print(
        f"  {'COPY (same join) TO STDOUT':36s} {copied.rows:11,d} rows"
        f" {copied.rows_per_s:10,.0f} rows/s  first byte {copied.first_byte_ms:7.0f} ms"
        f"  ({copied.size / 2**20:.0f} MB)",
        flush=True,
    )
    # "First byte < 200 ms for any range": the smallest and largest ranges, repeated.
    month_first = max(first, last - dt.timedelta(days=30))
    small = report_path("journal.csv", who.store, month_first, last)
    store_month = [first_byte_ms(served, small, admin) for _ in range(5)]
    chain_year = [served_download.first_byte_ms] + [
        first_byte_ms(served, path, admin) for _ in range(2)
    ]
    print(
        f"  first byte, one location's month: p50 {percentile(store_month, 0.5):.0f} ms;"
        f" all locations' whole range: p50 {percentile(chain_year, 0.5):.0f} ms",
        flush=True,
    )
    return {
        "served": served_download,
        "copy": copied,
        "first_byte_store_month_ms": percentile(store_month, 0.5),
        "first_byte_chain_ms": percentile(chain_year, 0.5),
    }


# --- a session of 2,000 transactions, and its close -------------------------------------------


def big_sessions(count: int, transactions: int) -> list[TrackingSession]:
    """`count` open sessions of `transactions` cash and card sales each, on registers of
    the bench location (opened through the service; the sales inserted with SQL and the
    running totals set from them, as record_transaction would have left them)."""
    location = bench_location()
    manager = get_user_model().objects.get(username="bench-manager")
    Membership.objects.get_or_create(
        user=manager, location=location, defaults={"role": Membership.Role.MANAGER}
    )
    sessions = []
    for number in range(count):
        code = f"big-{number + 1}"
        register, _ = Register.objects.get_or_create(
            location=location,
            code=code,
            defaults={"name": f"Big {number + 1}", "count_method": "total",
                      "default_float": Decimal("150.00")},
        )  # fmt: skip
        session = services.open_session(register=register, opening_float="150.00", by=manager)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO sessions_app_transaction (
                    register_id, session_id, kind, payment_method, amount, occurred_at,
                    received_at, external_id, late, recorded_by_id)
                SELECT %(register)s, %(session)s, 'sale',
                       CASE WHEN n %% 5 < 2 THEN 'cash' ELSE 'card' END,
                       (n %% 90) + 1.25, now() - (%(count)s - n) * interval '1 second',
                       now() - (%(count)s - n) * interval '1 second', NULL, false, %(user)s
                FROM generate_series(1, %(count)s) AS n
                """,
                {"register": register.pk, "session": session.pk, "count": transactions,
                 "user": manager.pk},
            )  # fmt: skip
            cursor.execute(
                """
                UPDATE sessions_app_trackingsession s SET
                    cash_sales = t.cash, cash_sales_count = t.cash_count, total_sales = t.total
                FROM (SELECT
                        COALESCE(SUM(amount) FILTER (WHERE payment_method = 'cash'), 0) AS cash,
                        COUNT(*) FILTER (WHERE payment_method = 'cash') AS cash_count,
                        SUM(amount) AS total
                      FROM sessions_app_transaction WHERE session_id = %s) t
                WHERE s.id = %s
                """,
                [session.pk, session.pk],
            )
        session.refresh_from_db()
        sessions.append(session)
    return sessions


def bench_location() -> Location:
    location, _ = Location.objects.get_or_create(
        name=BENCH_LOCATION, defaults={"currency": "EUR", "timezone": "Europe/Amsterdam"}
    )
    return location


def session_page_and_close(served: Served, who: Readers, runs: int, closes: int) -> dict:
    sessions = big_sessions(closes, 2000)
    cookie = cookie_headers(who.manager_cookie)
    path = f"/sessions/{sessions[0].pk}/"
    page = timed_get(served, "session page, open, 2,000 transactions", path, cookie, runs)
    page.queries = query_count(who.manager_client, path)
    print(f"  {page.name:62s} {page.line()}", flush=True)
    seconds = []
    conn = served.connection()
    try:
        for session in sessions:
            expected = services_expected(session)
            body = f'{{"counted_cash": "{expected}"}}'.encode()
            start = time.perf_counter()
            conn.request(
                "POST",
                f"/api/v1/sessions/{session.pk}/close/",
                body=body,
                headers={"Host": HOST, "Content-Type": "application/json",
                         **token_headers(who.manager_token)},
            )  # fmt: skip
            response = conn.getresponse()
            answer = response.read()
            seconds.append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"close: {response.status} {answer[:300]!r}")
            if response.will_close:
                conn.close()
    finally:
        conn.close()
    close = Figure(
        "close (POST sessions/{id}/close/), 2,000 transactions",
        percentile(seconds, 0.5) * 1000,
        percentile(seconds, 0.99) * 1000,
        len(seconds),
        len(answer),
    )
    print(f"  {close.name:62s} {close.line()}", flush=True)
    return {"page": page, "close": close}


def services_expected(session: TrackingSession) -> Decimal:
    """The cash the session expects now (float + cash sales − refunds + adjustments)."""
    session.refresh_from_db()
    return (
        session.opening_float
        + session.cash_sales
        - session.cash_refunds
        + session.adjustments_in
        - session.adjustments_out
        + session.sub_register_cash
    )
