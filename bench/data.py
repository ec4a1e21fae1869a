"""The data every figure is measured on: one function, `build(locations, days)`.

For now it builds the chain with plain SQL (below: `build_history`); once
`manage.py generate_chain` exists, `build` calls that instead and nothing else in bench/
changes, because every step finds its stores, registers and users in the database.

The chain built here: per location four standalone registers (counted as a total), two
closed sessions per register a day (08:00-14:00, 14:00-20:00) of 60 transactions each,
eight cashiers who open, close and sell in turn. 50 locations x 365 days is 146,000
sessions and 8.8 million transactions, the size issue 12 asks for.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pgtrigger
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from cashdrawer.models import Location, Membership, Register
from sessions_app import journal
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)

REGISTERS = 4  # per location
SESSIONS_A_DAY = 2  # per register
PER_SESSION = 60  # transactions
STAFF = 8  # cashiers per location
LAST_DAY = dt.date(2026, 10, 31)  # the history ends here (local days)


def build(locations: int, days: int) -> None:
    """Migrate the empty database and fill it with `locations` stores x `days` days."""
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    print(f"  building {locations} locations x {days} days with SQL ...", flush=True)
    build_history(locations, days)
    print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)


def build_history(locations: int, days: int) -> None:
    """`days` days of closed sessions and their transactions, consistent with every
    constraint, the closing hashes sealed as the app would have written them."""
    started = time.perf_counter()

    def step(text: str) -> None:
        print(f"    {text}  [{time.perf_counter() - started:.0f} s]", flush=True)

    User = get_user_model()
    for store in range(locations):
        location = Location.objects.create(
            name=f"Store {store + 1:03d}", currency="EUR", timezone="Europe/Amsterdam"
        )
        cashiers = User.objects.bulk_create(
            User(
                username=f"store{store + 1:03d}-cashier{n + 1}",
                first_name=f"Cashier {n + 1}",
                last_name=f"Store {store + 1:03d}",
                password="!",  # unusable: nobody logs in as them
            )
            for n in range(STAFF)
        )
        Membership.objects.bulk_create(
            Membership(user=user, location=location, role=Membership.Role.CASHIER)
            for user in cashiers
        )
        Register.objects.bulk_create(
            Register(
                location=location,
                name=f"Till {number + 1}",
                code=f"till-{number + 1}",
                count_method="total",
                default_float=Decimal("150.00"),
            )
            for number in range(REGISTERS)
        )
    first_day = LAST_DAY - dt.timedelta(days=days - 1)
    step("stores, cashiers and registers created; inserting sessions")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE bench_staff AS
            SELECT m.location_id, m.user_id,
                   row_number() OVER (PARTITION BY m.location_id ORDER BY m.user_id) - 1 AS n
            FROM cashdrawer_membership m
            """
        )
        # Session k of a register (k = day * SESSIONS_A_DAY + slot), float 150; local times
        # (Europe/Amsterdam) made absolute by PostgreSQL.
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
                   ((%(first)s::date + k / %(per_day)s) + make_interval(
                       hours => 8 + (k %% %(per_day)s) * 6)) AT TIME ZONE 'Europe/Amsterdam',
                   false, '', 150, CASE WHEN k = 0 THEN NULL ELSE 150 END, 0,
                   0, 0, 0, 0, 0, 0, 0, 0, 0,
                   ((%(first)s::date + k / %(per_day)s) + make_interval(
                       hours => 14 + (k %% %(per_day)s) * 6)) AT TIME ZONE 'Europe/Amsterdam',
                   '', 150, 150, 0, 150, 0, 0,
                   false, 0, k + 1, repeat('0', 64)
            FROM cashdrawer_register r
            CROSS JOIN generate_series(0, %(days)s * %(per_day)s - 1) AS k
            JOIN bench_staff st ON st.location_id = r.location_id AND st.n = (r.id + k) %% %(staff)s
            """,
            {"first": first_day, "per_day": SESSIONS_A_DAY, "days": days, "staff": STAFF},
        )
        step("inserting transactions")
        cursor.execute(
            """
            INSERT INTO sessions_app_transaction (
                register_id, session_id, kind, payment_method, amount, occurred_at,
                received_at, external_id, late, recorded_by_id)
            SELECT s.register_id, s.id,
                   CASE WHEN n %% 40 = 0 THEN 'refund' ELSE 'sale' END,
                   CASE WHEN n %% 5 < 2 THEN 'cash' ELSE 'card' END,
                   ((n * 7919 + s.id) %% 9000) / 100.0 + 1,
                   s.opened_at + n * interval '5 minutes',
                   s.opened_at + n * interval '5 minutes',
                   NULL, false, s.opened_by_id
            FROM sessions_app_trackingsession s CROSS JOIN generate_series(1, %s) AS n
            """,
            [PER_SESSION],
        )
    step("running totals and closing figures")
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
        step("sealing every close (closing numbers and hashes, in Python)")
        journal.seal_existing(
            (TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction)
        )
    step("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
