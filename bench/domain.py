"""Benchmark: the hot paths on a year of a busy chain's data (run by `make bench`).

Builds, with plain SQL, 10 stores x 6 registers x 365 days of closed sessions with
~150 transactions each (about 3.3 million transactions), then measures through the
real services and selectors:
- a cash sale posted by a terminal (sequential latency, and 8 terminals at once);
- closing a session;
- the discrepancy and cash-payments overviews and a session-list page, for one store
  over a month and over the year.
It reports figures and ratios; it asserts nothing, because the machine is shared.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import threading
import time
from decimal import Decimal

import django
import pgtrigger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cashdrawer.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from cashdrawer.models import Location, Membership, Register  # noqa: E402
from reports import selectors as report_selectors  # noqa: E402
from sessions_app import journal, services  # noqa: E402
from sessions_app.models import (  # noqa: E402
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)

STORES = int(os.environ.get("BENCH_STORES", "10"))
REGISTERS = int(os.environ.get("BENCH_REGISTERS", "6"))
DAYS = int(os.environ.get("BENCH_DAYS", "365"))
PER_SESSION = int(os.environ.get("BENCH_TRANSACTIONS", "150"))
STAFF = 8  # cashiers per store, who open and close the sessions and record the sales


def build_history() -> None:
    """A year of closed sessions and their transactions, consistent with every constraint.

    Each store has STAFF cashiers; a session is opened and closed by one of them (in turn
    by register and day) and its transactions are recorded by whoever opened it, so the
    staff charts, the session list and the CSV files have names to join and print.
    """
    User = get_user_model()
    for store in range(STORES):
        location = Location.objects.create(
            name=f"Store {store + 1:02d}", currency="EUR", timezone="Europe/Amsterdam"
        )
        cashiers = User.objects.bulk_create(
            User(
                username=f"store{store + 1:02d}-cashier{n + 1}",
                first_name=f"Cashier {n + 1}",
                last_name=f"Store {store + 1:02d}",
                password="!",  # unusable: nobody logs in as them
            )
            for n in range(STAFF)
        )
        Membership.objects.bulk_create(
            Membership(user=user, location=location, role=Membership.Role.CASHIER)
            for user in cashiers
        )
        for number in range(REGISTERS):
            Register.objects.create(
                location=location,
                name=f"Till {number + 1}",
                code=f"till-{number + 1}",
                count_method="total",
                default_float=Decimal("150.00"),
            )
    with connection.cursor() as cursor:
        # The n-th cashier of each store, n = 0..STAFF-1.
        cursor.execute(
            """
            CREATE TEMP TABLE bench_staff AS
            SELECT m.location_id, m.user_id,
                   row_number() OVER (PARTITION BY m.location_id ORDER BY m.user_id) - 1 AS n
            FROM cashdrawer_membership m
            """
        )
        # One session per register and day, 08:00-20:00, float 150, count = expected +/- noise.
        cursor.execute(
            """
            INSERT INTO sessions_app_trackingsession (
                register_id, location_id, opened_by_id, closed_by_id,
                status, opened_at, opened_automatically,
                opening_note, opening_float, previous_closing_float, start_discrepancy,
                cash_sales, cash_sales_count, cash_refunds, cash_refunds_count,
                total_sales, total_refunds, adjustments_in, adjustments_out,
                sub_register_cash, closed_at, closing_note, expected_cash, counted_cash,
                end_discrepancy, retained_float, cash_removed, total_discrepancy,
                blind_close, transferred_to_main, closing_number, closing_hash)
            SELECT r.id, r.location_id, st.user_id, st.user_id, 'closed',
                   date '2025-11-01' + d * interval '1 day' + interval '8 hours', false,
                   '', 150, CASE WHEN d = 0 THEN NULL ELSE 150 END, 0,
                   0, 0, 0, 0, 0, 0, 0, 0, 0,
                   date '2025-11-01' + d * interval '1 day' + interval '20 hours', '',
                   150, 150, 0, 150, 0, 0,
                   false, 0, d + 1, repeat('0', 64)
            FROM cashdrawer_register r CROSS JOIN generate_series(0, %s - 1) AS d
            JOIN bench_staff st ON st.location_id = r.location_id AND st.n = (r.id + d) %% %s
            """,
            [DAYS, STAFF],
        )
        cursor.execute(
            """
            INSERT INTO sessions_app_transaction (
                register_id, session_id, kind, payment_method, amount, occurred_at,
                received_at, external_id, late, recorded_by_id)
            SELECT s.register_id, s.id,
                   CASE WHEN n %% 40 = 0 THEN 'refund' ELSE 'sale' END,
                   CASE WHEN n %% 5 < 2 THEN 'cash' ELSE 'card' END,
                   ((n * 7919 + s.id) %% 9000) / 100.0 + 1,
                   s.opened_at + n * interval '4 minutes',
                   s.opened_at + n * interval '4 minutes',
                   NULL, false, s.opened_by_id
            FROM sessions_app_trackingsession s CROSS JOIN generate_series(1, %s) AS n
            """,
            [PER_SESSION],
        )
    # Running totals and closing figures from the rows, so every check constraint holds;
    # then the real closing hashes. A closed session is immutable (a trigger): the bench
    # database's owner lifts it for building the history, as only the owner can.
    with (
        pgtrigger.ignore("sessions_app.TrackingSession:closed_session_unchanged"),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            """
            UPDATE sessions_app_trackingsession s SET
                cash_sales = t.cash_sales, cash_sales_count = t.cash_sales_count,
                cash_refunds = t.cash_refunds, cash_refunds_count = t.cash_refunds_count,
                total_sales = t.total_sales, total_refunds = t.total_refunds,
                expected_cash = 150 + t.cash_sales - t.cash_refunds,
                counted_cash = 150 + t.cash_sales - t.cash_refunds + (s.id %% 7 - 3) * 0.5,
                end_discrepancy = (s.id %% 7 - 3) * 0.5,
                total_discrepancy = (s.id %% 7 - 3) * 0.5,
                cash_removed = t.cash_sales - t.cash_refunds + (s.id %% 7 - 3) * 0.5
            FROM (
                SELECT session_id,
                    COALESCE(SUM(amount) FILTER (WHERE kind='sale' AND payment_method='cash'), 0)
                        AS cash_sales,
                    COUNT(*) FILTER (WHERE kind='sale' AND payment_method='cash')
                        AS cash_sales_count,
                    COALESCE(SUM(amount) FILTER (WHERE kind='refund' AND payment_method='cash'), 0)
                        AS cash_refunds,
                    COUNT(*) FILTER (WHERE kind='refund' AND payment_method='cash')
                        AS cash_refunds_count,
                    COALESCE(SUM(amount) FILTER (WHERE kind='sale'), 0) AS total_sales,
                    COALESCE(SUM(amount) FILTER (WHERE kind='refund'), 0) AS total_refunds
                FROM sessions_app_transaction GROUP BY session_id
            ) t
            WHERE t.session_id = s.id
            """,
            [],  # with params, "%%" is "%" (pgtrigger.ignore passes them on)
        )
        journal.seal_existing(
            (TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(function, repeat: int = 5) -> float:
    """Median seconds of `repeat` runs."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench_sales(register: Register, count: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount=f"{n % 50 + 1}.50"
        )
    return (time.perf_counter() - start) / count


def bench_concurrent_sales(register: Register, threads: int, each: int) -> float:
    def post() -> None:
        try:
            for n in range(each):
                services.record_transaction(
                    register=register, kind="sale", payment_method="cash", amount=f"{n % 9 + 1}.00"
                )
        finally:
            connection.close()

    workers = [threading.Thread(target=post) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * each / (time.perf_counter() - start)


def bench_close(register: Register, repeat: int = 5) -> float:
    """Median seconds of closing a session that has 20 cash sales."""
    runs = []
    for _ in range(repeat):
        session = services.open_session(register=register, opening_float="150.00", by=None)
        for _sale in range(20):
            services.record_transaction(
                register=register, kind="sale", payment_method="cash", amount="2.00"
            )
        start = time.perf_counter()
        services.close_session(session=session, counted="190.00", by=None)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def build() -> None:
    """Migrate the empty database and build the year of data (prints what it built)."""
    call_command("migrate", verbosity=0)
    print(f"Building {STORES} stores x {REGISTERS} registers x {DAYS} days x {PER_SESSION} ...")
    start = time.perf_counter()
    build_history()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sessions_app_transaction")
        (transactions,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM sessions_app_trackingsession")
        (sessions,) = cursor.fetchone()
    took = time.perf_counter() - start
    print(f"  {sessions:,} sessions, {transactions:,} transactions in {took:.0f} s")


def last_day() -> dt.date:
    """The last local day of the built history."""
    return dt.date(2025, 11, 1) + dt.timedelta(days=DAYS - 1)


def measure() -> dict[str, float]:
    """The services and selectors, called directly (no request, no template); the figures
    in seconds, for bench/web.py to compare with."""
    location = Location.objects.order_by("id").first()
    register = location.registers.order_by("id").first()
    last = last_day()
    month = report_selectors.sessions_in_range([location], last - dt.timedelta(days=30), last)
    year = report_selectors.sessions_in_range([location], last - dt.timedelta(days=364), last)
    chain_year = report_selectors.sessions_in_range(
        Location.objects.all(), last - dt.timedelta(days=364), last
    )

    def overview(sessions):
        return lambda: (
            report_selectors.discrepancy_overview(sessions),
            report_selectors.cash_payments_overview(sessions),
        )

    def first_page(sessions):
        return lambda: list(report_selectors.session_list(sessions, "-total_discrepancy")[:50])

    figures = {
        "overviews, one store, 31 days": timed(overview(month)),
        "overviews, one store, 365 days": timed(overview(year)),
        "overviews, whole chain, 365 days": timed(overview(chain_year)),
        "session list page, one store, 365 days, by discrepancy": timed(first_page(year)),
    }
    started = time.perf_counter()
    verified = journal.verify()
    verify_seconds = time.perf_counter() - started
    assert verified.broken is None, verified.broken
    sale = bench_sales(register, 500)
    close = bench_close(location.registers.order_by("id")[2])
    other = location.registers.order_by("id")[1]
    throughput = bench_concurrent_sales(other, threads=8, each=250)

    for name, seconds in figures.items():
        print(f"  {name:58s} {seconds * 1000:8.1f} ms")
    print(f"  {'cash sale through record_transaction (sequential)':58s} {sale * 1000:8.2f} ms/sale")
    print(f"  {'cash sales, 8 terminals on one register':58s} {throughput:8.0f} sales/s")
    print(f"  {'close_session (after open)':58s} {close * 1000:8.1f} ms")
    rate = verified.closes / verify_seconds
    print(
        f"  {'verify_journal, every close of the chain':58s} {verify_seconds:8.1f} s"
        f" ({verified.closes:,} closes of {PER_SESSION} transactions, {rate:,.0f} closes/s;"
        f" 100,000 closes in {100_000 / rate:.0f} s)"
    )
    ratio = figures["overviews, one store, 365 days"] / figures["overviews, one store, 31 days"]
    print(f"\n  ratio year/month of one store's overviews: {ratio:.1f} (sessions ratio ~11.8)")
    return {**figures, "sale": sale, "close": close}


def main() -> int:
    build()
    print("\nServices and selectors")
    measure()
    return 0


if __name__ == "__main__":
    sys.exit(main())
