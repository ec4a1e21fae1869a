"""Real threads against PostgreSQL: the row locks of sessions_app/services.py must keep
cash honest when terminals post sales while someone closes the session.

Each thread has its own database connection (Django's are per thread) and closes it
when done. These tests commit for real, so they use transactional_db; they need no data
from migrations (the tables are flushed after each of them).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import traceback
from collections.abc import Callable
from decimal import Decimal as D

import pytest
from django.db import OperationalError, connection, transaction

from sessions_app import services
from sessions_app.exceptions import MainSessionNotOpen, SessionAlreadyOpen, SubSessionsOpen
from sessions_app.models import TrackingSession, Transaction
from sessions_app.selectors import open_session_of

pytestmark = [
    pytest.mark.concurrency,
    pytest.mark.django_db(transaction=True),
]

POSTERS = 8
SALES_PER_POSTER = 200


def _thread(body: Callable[[], None], errors: list[str]) -> threading.Thread:
    """A thread that records any exception it did not expect and closes its connection."""

    def run() -> None:
        try:
            body()
        except BaseException:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    return threading.Thread(target=run, daemon=True)


def _amount(poster: int, number: int) -> D:
    # Varied cents, e.g. 1.25, 17.40, 36.05: every poster's sum is different.
    return D(1 + (poster * 7 + number) % 37) + D((number * 25 + poster * 5) % 100) / 100


def test_sales_racing_with_closes_all_land_in_exactly_one_session(register, manager):
    errors: list[str] = []
    start = threading.Barrier(POSTERS + 1)
    posters_done = threading.Event()
    posted: list[D] = []
    closes = 0

    def post(poster: int) -> Callable[[], None]:
        def body() -> None:
            start.wait(timeout=30)
            total = D("0.00")
            for number in range(SALES_PER_POSTER):
                amount = _amount(poster, number)
                recorded = services.record_transaction(
                    register=register, kind="sale", payment_method="cash", amount=amount, by=None
                )
                assert recorded.created
                total += amount
            posted.append(total)

        return body

    def close_and_reopen() -> None:
        nonlocal closes
        rng = random.Random(7)
        start.wait(timeout=30)
        while not posters_done.is_set():
            session = open_session_of(register.pk)
            if session is not None:
                counted = rng.choice([D("0.00"), D("75.50"), D("150.00"), D("999.99")])
                retained = min(counted, rng.choice([D("0.00"), D("20.00"), D("150.00")]))
                services.close_session(
                    session=session, counted=counted, retained_float=retained, by=manager
                )
                closes += 1
            # A sale may get the lock first and open one automatically: SessionAlreadyOpen.
            with contextlib.suppress(SessionAlreadyOpen):
                services.open_session(
                    register=register, opening_float=rng.choice(["0.00", "20.00"]), by=manager
                )
            posters_done.wait(rng.uniform(0.001, 0.01))

    posters = [_thread(post(number), errors) for number in range(POSTERS)]
    closer = _thread(close_and_reopen, errors)
    for thread in [*posters, closer]:
        thread.start()
    for thread in posters:
        thread.join(timeout=60)
    posters_done.set()
    closer.join(timeout=60)

    assert errors == []
    assert closes >= 3, "the closer never got between the sales"
    sales = Transaction.objects.filter(register=register)
    assert sales.count() == POSTERS * SALES_PER_POSTER
    assert not sales.filter(session__isnull=True).exists()
    assert not sales.filter(late=True).exists()
    assert sum(sales.values_list("amount", flat=True)) == sum(posted)
    assert len(posted) == POSTERS

    with connection.cursor() as cursor:
        # A sale is recorded in a session only between its opening and its close (strict
        # order: both timestamps are taken under the register's row lock).
        cursor.execute(
            """
            SELECT count(*) FROM sessions_app_transaction t
            JOIN sessions_app_trackingsession s ON s.id = t.session_id
            WHERE t.register_id = %s
              AND (t.received_at < s.opened_at OR t.received_at > s.closed_at)
            """,
            [register.pk],
        )
        assert cursor.fetchone()[0] == 0
        # Every session's expected cash, recomputed from the transactions themselves.
        cursor.execute(
            """
            SELECT s.id, s.opening_float + COALESCE(sum(t.amount)
                FILTER (WHERE t.kind = 'sale' AND t.payment_method = 'cash'), 0),
                count(t.id)
            FROM sessions_app_trackingsession s
            LEFT JOIN sessions_app_transaction t ON t.session_id = s.id
            WHERE s.register_id = %s
            GROUP BY s.id
            """,
            [register.pk],
        )
        recomputed = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}

    sessions = list(TrackingSession.objects.filter(register=register).order_by("opened_at", "id"))
    assert len(sessions) == len(recomputed) > closes
    for session in sessions:
        expected, count = recomputed[session.pk]
        assert session.current_expected_cash == expected, session.pk
        assert session.cash_sales_count == count, session.pk
        if not session.is_open:
            assert session.expected_cash == expected
    # The sessions follow each other: each starts after the last one closed, from its float.
    assert [s.is_open for s in sessions[:-1]] == [False] * (len(sessions) - 1)
    for previous, following in itertools.pairwise(sessions):
        assert previous.closed_at <= following.opened_at
        assert following.previous_closing_float == previous.retained_float
        if following.opened_automatically:
            assert following.opening_float == previous.retained_float


def test_concurrent_first_sales_open_exactly_one_session(location, make_register):
    registers = [make_register(location, count_method="total") for _ in range(6)]
    errors: list[str] = []
    start = threading.Barrier(POSTERS)
    created_shared: list[bool] = []

    def post(poster: int) -> Callable[[], None]:
        def body() -> None:
            for register in registers:
                start.wait(timeout=30)  # all posters hit each fresh register together
                services.record_transaction(
                    register=register,
                    kind="sale",
                    payment_method="cash",
                    amount="1.25",
                    external_id=f"receipt-{poster}",
                    by=None,
                )
                # The same receipt sent by every terminal at once is recorded once.
                recorded = services.record_transaction(
                    register=register,
                    kind="sale",
                    payment_method="cash",
                    amount="2.00",
                    external_id="shared",
                    by=None,
                )
                created_shared.append(recorded.created)

        return body

    threads = [_thread(post(number), errors) for number in range(POSTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []  # in particular no IntegrityError from a second session
    assert created_shared.count(True) == len(registers)
    for register in registers:
        session = TrackingSession.objects.get(register=register)
        assert session.opened_automatically
        assert session.transactions.count() == POSTERS + 1
        assert session.cash_sales == POSTERS * D("1.25") + D("2.00")


ROUNDS = 40


def test_a_sub_register_opening_while_its_main_closes_never_outlives_the_main(
    main_register, sub_a, manager
):
    errors: list[str] = []
    outcomes = {"sub opened": 0, "main closed": 0}
    # Three parties per round: this thread opens the main session and checks the result;
    # two workers (each keeping its connection across rounds, so a round is only the race
    # itself) open the sub and close the main, each after a random pause of a few ms.
    go = threading.Barrier(3)
    done = threading.Barrier(3)
    main_sessions: list[TrackingSession] = []

    def open_sub() -> None:
        rng = random.Random(11)
        for round_number in range(ROUNDS):
            go.wait(timeout=30)
            threading.Event().wait(rng.uniform(0, 0.003))
            try:
                if round_number % 2:
                    services.open_session(register=sub_a, opening_float="5.00", by=manager)
                else:  # the automatic opening of rule 2 takes the same path
                    services.record_transaction(
                        register=sub_a, kind="sale", payment_method="cash", amount="3.00", by=None
                    )
                outcomes["sub opened"] += 1
            except MainSessionNotOpen:
                pass
            done.wait(timeout=30)

    def close_main() -> None:
        rng = random.Random(13)
        for round_number in range(ROUNDS):
            go.wait(timeout=30)
            threading.Event().wait(rng.uniform(0, 0.003))
            try:
                services.close_session(session=main_sessions[round_number], by=manager)
                outcomes["main closed"] += 1
            except SubSessionsOpen:
                pass
            done.wait(timeout=30)

    workers = [_thread(open_sub, errors), _thread(close_main, errors)]
    for worker in workers:
        worker.start()
    try:
        for round_number in range(ROUNDS):
            main = services.open_session(register=main_register, opening_float="0.00", by=manager)
            main_sessions.append(main)
            go.wait(timeout=30)
            done.wait(timeout=30)
            assert errors == []

            orphans = TrackingSession.objects.filter(
                register__role="sub", status="open", main_session__status="closed"
            )
            assert not orphans.exists(), f"round {round_number}: open sub under a closed main"
            # Exactly one of the two won: never both, never neither.
            sub_session = open_session_of(sub_a.pk)
            main.refresh_from_db()
            assert (sub_session is None) == (not main.is_open)
            if sub_session is not None:
                assert sub_session.main_session_id == main.pk
                services.close_session(session=sub_session, by=manager)
                services.close_session(session=main, by=manager)
    finally:
        # A failed round must not leave the workers waiting at a barrier forever.
        go.abort()
        done.abort()
        for worker in workers:
            worker.join(timeout=30)

    assert sum(outcomes.values()) == ROUNDS
    assert not TrackingSession.objects.filter(status="open").exists()


def _locked_in_thread(register, errors: list[str]) -> tuple[threading.Thread, threading.Event]:
    """A thread that records a sale on `register` and keeps its transaction (and so its
    locks) open until the returned event is set."""
    locked, release = threading.Event(), threading.Event()

    def body() -> None:
        with transaction.atomic():
            services.record_transaction(
                register=register, kind="sale", payment_method="cash", amount="1.00", by=None
            )
            locked.set()
            release.wait(timeout=30)

    thread = _thread(body, errors)
    thread.start()
    assert locked.wait(timeout=30)
    return thread, release


def _sale_within(register, seconds: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{seconds}s'")
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount="2.00", by=None
        )


def test_registers_of_one_store_do_not_wait_for_each_other(location, make_register):
    till_1 = make_register(location, count_method="total")
    till_2 = make_register(location, count_method="total")
    errors: list[str] = []
    thread, release = _locked_in_thread(till_1, errors)
    try:
        # The lock is real on the same register...
        with pytest.raises(OperationalError):
            _sale_within(till_1, "0.2")
        # ...and it is the register's only, not its store's.
        _sale_within(till_2, "2")
    finally:
        release.set()
        thread.join(timeout=30)

    assert errors == []
    assert Transaction.objects.filter(register=till_1).count() == 1
    assert Transaction.objects.filter(register=till_2).count() == 1
