"""Benchmark: the back-office pages, the report API and the CSV downloads (run by `make bench`
after bench/domain.py, on the same year of a busy chain's data).

Every figure is a whole request through Django's test Client: URL routing, middleware,
authentication, the view, its template or serializer. The pages are read logged in as the
manager of one store and as a superuser (the whole chain); the API with the manager's user
token, and POSTs with a device token the manager issues through the API, as a terminal
would. Figures are medians of several runs, with the number of SQL queries of one run.
The CSV downloads are streamed as a client would read them: rows per second, time to the
first chunk, and how much the process's memory grew while streaming (a file that were
built in memory would grow it by hundreds of MB). Like bench/domain.py it asserts nothing
about speed: it reports figures and ratios.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlencode

# The test Client asks for host "testserver"; with DEBUG off ALLOWED_HOSTS is empty.
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import domain  # sets up Django, before the models are imported
from cashdrawer.authentication import issue_user_token
from cashdrawer.models import Location, Membership
from sessions_app.models import TrackingSession

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
POSTS = int(os.environ.get("BENCH_POSTS", "200"))
WIDTH = 58  # the name column, as in bench/domain.py


def line(name: str, figure: str, extra: str = "") -> None:
    print(f"  {name:{WIDTH}s} {figure}{'  ' + extra if extra else ''}")


# --- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    seconds: float  # median of REPEAT runs
    queries: int  # SQL queries of one run
    size: int  # bytes of the answer


def get(client: Client, url: str, repeat: int = REPEAT, **headers: str) -> Timed:
    """GET `url` once to warm up, once counting queries, then `repeat` timed runs."""
    answer = client.get(url, headers=headers)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.content[:300]!r}")
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    # Count now: the next request empties the connection's query log.
    count = len(queries)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(url, headers=headers)
        size = len(answer.content)
        runs.append(time.perf_counter() - start)
    return Timed(statistics.median(runs), count, size)


def show(name: str, timed: Timed) -> None:
    line(
        name,
        f"{timed.seconds * 1000:8.1f} ms",
        f"{timed.queries:3d} queries  {timed.size / 1024:5.0f} KB",
    )


def overview_url(location: Location | None, first, last, **extra) -> str:
    params = {"location": location.pk if location else "all", "range": "custom"}
    params.update({"from": first.isoformat(), "to": last.isoformat(), **extra})
    return f"/overview/?{urlencode(params)}"


def report_url(name: str, location: Location | None, first, last, **extra) -> str:
    params = {"location": location.pk} if location else {}
    params.update({"from": first.isoformat(), "to": last.isoformat(), **extra})
    return f"/api/v1/reports/{name}?{urlencode(params)}"


# --- POSTs of a terminal ----------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    seconds: float  # mean per POST over the loop
    queries: int  # SQL queries of one more POST of the same kind


def post_sales(
    client: Client, secret: str, register_id: int, count: int, key: str | None
) -> Posted:
    """`count` cash sales POSTed one after another; with an Idempotency-Key `key-n` each."""
    auth = {"Authorization": f"Token {secret}"}

    def post(n: int, idempotency_key: str | None = None):
        headers = dict(auth)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        body = {
            "register": register_id,
            "kind": "sale",
            "payment_method": "cash",
            "amount": f"{n % 50 + 1}.50",
        }
        answer = client.post(
            "/api/v1/transactions/", body, content_type="application/json", headers=headers
        )
        if answer.status_code != 201:
            raise RuntimeError(f"POST: {answer.status_code} {answer.content[:300]!r}")
        return answer

    start = time.perf_counter()
    for n in range(count):
        post(n, f"{key}-{n}" if key else None)
    seconds = (time.perf_counter() - start) / count
    with CaptureQueriesContext(connection) as queries:
        post(count, f"{key}-{count}" if key else None)
    return Posted(seconds, len(queries))


def replay_sale(client: Client, secret: str, register_id: int, count: int) -> Posted:
    """One sale with a key, then `count` repeats of it (what a terminal does after a timeout)."""
    headers = {"Authorization": f"Token {secret}", "Idempotency-Key": "bench-replayed"}
    body = {"register": register_id, "kind": "sale", "payment_method": "cash", "amount": "9.99"}

    def post():
        return client.post(
            "/api/v1/transactions/", body, content_type="application/json", headers=headers
        )

    first = post()
    if first.status_code != 201:
        raise RuntimeError(f"POST: {first.status_code} {first.content[:300]!r}")
    start = time.perf_counter()
    for _ in range(count):
        answer = post()
        if answer.status_code != 201 or answer.headers.get("Idempotent-Replayed") != "true":
            raise RuntimeError(f"replay: {answer.status_code} {dict(answer.headers)}")
    seconds = (time.perf_counter() - start) / count
    with CaptureQueriesContext(connection) as queries:
        post()
    return Posted(seconds, len(queries))


def show_posted(name: str, posted: Posted) -> None:
    line(name, f"{posted.seconds * 1000:8.2f} ms/POST", f"{posted.queries:3d} queries")


# --- streamed CSV ----------------------------------------------------------------------------


def rss_bytes() -> int:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class Streamed:
    rows: int
    seconds: float
    first_chunk: float  # seconds from the request to the first chunk of the file
    growth: int  # peak resident memory while streaming, minus before, in bytes
    size: int
    queries: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def stream(client: Client, url: str, **headers: str) -> Streamed:
    """Download a CSV file chunk by chunk, as a client reads it, keeping none of it."""
    before = peak = rss_bytes()
    size = lines = 0
    first_chunk = None
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        answer = client.get(url, headers=headers)
        if answer.status_code != 200 or not answer.streaming:
            raise RuntimeError(f"GET {url}: {answer.status_code}")
        for chunk in answer.streaming_content:
            if first_chunk is None:
                first_chunk = time.perf_counter() - start
            size += len(chunk)
            lines += chunk.count(b"\r\n")
            peak = max(peak, rss_bytes())
        seconds = time.perf_counter() - start
        answer.close()
    return Streamed(lines - 1, seconds, first_chunk or seconds, peak - before, size, len(queries))


def first_chunk(client: Client, url: str, **headers: str) -> float:
    """Seconds until the first chunk of a file, which is then dropped (the client goes away)."""
    start = time.perf_counter()
    answer = client.get(url, headers=headers)
    if answer.status_code != 200 or not answer.streaming:
        raise RuntimeError(f"GET {url}: {answer.status_code}")
    next(iter(answer.streaming_content))
    seconds = time.perf_counter() - start
    answer.close()
    return seconds


def show_streamed(name: str, streamed: Streamed) -> None:
    line(
        name,
        f"{streamed.seconds:8.2f} s ",
        f"{streamed.rows:9,d} rows {streamed.rows_per_second:8,.0f} rows/s"
        f"  first chunk {streamed.first_chunk * 1000:6.0f} ms"
        f"  memory +{streamed.growth / 2**20:4.0f} MB  ({streamed.size / 2**20:.0f} MB file,"
        f" {streamed.queries} queries)",
    )


# --- the run ----------------------------------------------------------------------------------


def measure(service: dict[str, float] | None = None) -> None:
    """Pages, API and CSV files over the data bench/domain.py built; `service` holds its
    figures (seconds), to compare a POST with the service call behind it."""
    User = get_user_model()
    store = Location.objects.order_by("id").first()
    registers = list(store.registers.order_by("id"))
    manager = User.objects.create_user("bench-manager", first_name="Bench", last_name="Manager")
    Membership.objects.create(user=manager, location=store, role=Membership.Role.MANAGER)
    admin = User.objects.create_superuser("bench-admin", "admin@example.com", None)

    as_manager, as_admin, api = Client(), Client(), Client()
    as_manager.force_login(manager)
    as_admin.force_login(admin)
    user_token = issue_user_token(user=manager, name="bench").secret
    token = {"Authorization": f"Token {user_token}"}

    last = domain.last_day()
    year_first = last - dt.timedelta(days=364)
    month_first = last - dt.timedelta(days=30)

    print(f"\nBack-office pages (test Client, median of {REPEAT}; queries of one request)")
    pages = {
        "overview, one store, 31 days (manager)": get(
            as_manager, overview_url(store, month_first, last)
        ),
        "overview, one store, 365 days (manager)": get(
            as_manager, overview_url(store, year_first, last)
        ),
        "overview, all 10 stores, 365 days (superuser)": get(
            as_admin, overview_url(None, year_first, last)
        ),
        "overview, one store, 365 days, by discrepancy, page 1": get(
            as_manager, overview_url(store, year_first, last, ordering="total_discrepancy")
        ),
        "overview, one store, 365 days, by discrepancy, page 50": get(
            as_manager,
            overview_url(store, year_first, last, ordering="total_discrepancy", page=50),
        ),
        "overview, all stores, 365 days, by discrepancy, page 50": get(
            as_admin, overview_url(None, year_first, last, ordering="total_discrepancy", page=50)
        ),
    }
    for name, timed in pages.items():
        show(name, timed)

    # The last session of the built history (not one the domain bench opened or closed).
    typical = (
        TrackingSession.objects.filter(location=store, opened_at__date__lte=last)
        .order_by("-opened_at")
        .first()
    )
    busiest = (
        TrackingSession.objects.filter(location=store)
        .annotate(transactions_count=Count("transactions"))
        .filter(transactions_count__gt=domain.PER_SESSION)
        .order_by("-transactions_count")
        .first()
    )
    sessions = {f"session page, closed, {domain.PER_SESSION} transactions": typical}
    if busiest is not None:
        name = f"session page, {busiest.status}, {busiest.transactions_count:,} transactions"
        sessions[name] = busiest
    session_pages = {
        name: get(as_manager, f"/sessions/{session.pk}/") for name, session in sessions.items()
    }
    for name, timed in session_pages.items():
        show(name, timed)

    print("\nReport API (user token of the manager)")
    reports = {
        "GET reports/discrepancy/, one store, 31 days": get(
            api, report_url("discrepancy/", store, month_first, last), **token
        ),
        "GET reports/discrepancy/, one store, 365 days": get(
            api, report_url("discrepancy/", store, year_first, last), **token
        ),
        "GET reports/cash-payments/, one store, 365 days": get(
            api, report_url("cash-payments/", store, year_first, last), **token
        ),
    }
    for name, timed in reports.items():
        show(name, timed)

    # A terminal on a register the domain bench left alone; its token issued through the API.
    register = registers[3]
    issued = api.post(
        f"/api/v1/registers/{register.pk}/device-tokens/",
        {"name": "bench terminal"},
        content_type="application/json",
        headers=token,
    )
    if issued.status_code != 201:
        raise RuntimeError(f"device token: {issued.status_code} {issued.content[:300]!r}")
    device = issued.json()["token"]
    post_sales(api, device, register.pk, 5, None)  # opens the session, warms up
    print(f"\nTerminal POSTs (device token, {POSTS} sequential, mean)")
    posts = {
        "POST transactions/, cash sale": post_sales(api, device, register.pk, POSTS, None),
        "POST transactions/, cash sale, Idempotency-Key": post_sales(
            api, device, register.pk, POSTS, "bench-key"
        ),
        "POST transactions/, replayed (same key and body)": replay_sale(
            api, device, register.pk, POSTS
        ),
    }
    for name, posted in posts.items():
        show_posted(name, posted)

    print("\nCSV downloads (streamed, once each; memory: resident set growth while streaming)")
    csv = {
        "journal.csv, one store, 365 days (manager)": stream(
            api, report_url("journal.csv", store, year_first, last), **token
        ),
        "journal.csv, all 10 stores, 31 days (superuser)": stream(
            as_admin, report_url("journal.csv", None, month_first, last)
        ),
        "sessions.csv, one store, 365 days (manager)": stream(
            api, report_url("sessions.csv", store, year_first, last), **token
        ),
        "sessions.csv, all 10 stores, 365 days (superuser)": stream(
            as_admin, report_url("sessions.csv", None, year_first, last)
        ),
    }
    for name, streamed in csv.items():
        show_streamed(name, streamed)
    # The biggest file a user can ask for (3.3 million rows): only how long it takes to start.
    chain_year_start = first_chunk(as_admin, report_url("journal.csv", None, year_first, last))
    line(
        "journal.csv, all 10 stores, 365 days, first chunk only",
        f"{chain_year_start:8.2f} s ",
        "until the first byte; then the client goes away",
    )

    def ratio(text: str, value: float, note: str = "") -> None:
        print(f"  {text}: {value:.1f}{f' ({note})' if note else ''}")

    print()
    ratio(
        "ratio year/month of one store's overview page",
        pages["overview, one store, 365 days (manager)"].seconds
        / pages["overview, one store, 31 days (manager)"].seconds,
        "sessions ratio ~11.8",
    )
    ratio(
        "ratio all stores/one store of the year's overview page",
        pages["overview, all 10 stores, 365 days (superuser)"].seconds
        / pages["overview, one store, 365 days (manager)"].seconds,
        "sessions ratio 10",
    )
    ratio(
        "ratio page 50/page 1 of a store's year by discrepancy",
        pages["overview, one store, 365 days, by discrepancy, page 50"].seconds
        / pages["overview, one store, 365 days, by discrepancy, page 1"].seconds,
    )
    if busiest is not None:
        typical_page, busiest_page = session_pages.values()
        ratio(
            "ratio busiest/typical session page",
            busiest_page.seconds / typical_page.seconds,
            f"transactions ratio {busiest.transactions_count / domain.PER_SESSION:.1f}",
        )
    sale = posts["POST transactions/, cash sale"].seconds
    if service and "sale" in service:
        ratio(
            "ratio POST of a sale/record_transaction alone",
            sale / service["sale"],
            "the cost of HTTP, token and serializers",
        )
    ratio(
        "ratio POST with/without Idempotency-Key",
        posts["POST transactions/, cash sale, Idempotency-Key"].seconds / sale,
    )
    ratio(
        "ratio replayed/first POST",
        posts["POST transactions/, replayed (same key and body)"].seconds / sale,
    )
    store_year = csv["journal.csv, one store, 365 days (manager)"]
    chain_month = csv["journal.csv, all 10 stores, 31 days (superuser)"]
    ratio(
        "journal rows/s, one store's year vs all stores' month",
        store_year.rows_per_second / chain_month.rows_per_second,
        f"{store_year.rows_per_second:,.0f} vs {chain_month.rows_per_second:,.0f} rows/s",
    )


def main() -> int:
    domain.build()
    measure()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
