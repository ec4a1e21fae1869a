"""Real threads against PostgreSQL through the whole API: 16 terminals post 2,000 cash sales
to one register with device tokens, and 10% of them again with the same Idempotency-Key,
half of those at the same moment as the first (from another thread, so while the first
is in flight), half later. Exactly 2,000 sales are stored, and the session's expected
cash is the float plus their sum as the database itself adds it up.

Each thread has its own client and its own database connection, closed when it is done.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections import defaultdict
from decimal import Decimal as D

import pytest
from django.db import connection
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token
from sessions_app import services
from sessions_app.models import TrackingSession, Transaction

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

THREADS = 16
SALES = 2000
TOKENS = 4  # terminals share a token in fours, so a repeat can come from another thread
REPEATED_TOGETHER = 100  # sent at the same moment as the first, from another thread
REPEATED_LATER = 100


def _amount(number: int) -> D:
    return D(1 + number % 53) + D(number * 37 % 100) / 100  # 1.00 .. 53.99, varied cents


def test_sixteen_terminals_post_2000_sales_with_repeats_exactly_once(location, register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    secrets = [issue_device_token(register=register, by=manager).secret for _ in range(TOKENS)]

    jobs: queue.Queue = queue.Queue()
    together = set(range(0, SALES, SALES // REPEATED_TOGETHER))
    later = set(range(7, SALES, SALES // REPEATED_LATER))
    for number in range(SALES):
        if number in together:
            pair = threading.Barrier(2)
            jobs.put((number, pair))
            jobs.put((number, pair))  # the next free thread takes it, while this one waits
        else:
            jobs.put((number, None))
    for number in sorted(later):
        jobs.put((number, None))

    answers: dict[int, list[tuple[int, bytes, bool]]] = defaultdict(list)
    in_flight_retries = []
    errors: list[str] = []

    def post(client: APIClient, number: int) -> None:
        body = {
            "register": register.pk,
            "kind": "sale",
            "payment_method": "cash",
            "amount": str(_amount(number)),
        }
        while True:
            response = client.post(
                "/api/v1/transactions/",
                body,
                format="json",
                HTTP_AUTHORIZATION=f"Token {secrets[number % TOKENS]}",
                HTTP_IDEMPOTENCY_KEY=f"till-sale-{number}",
            )
            if response.status_code == 409:  # in flight for too long: safe to retry
                assert response.json()["code"] == "idempotency_key_in_flight"
                in_flight_retries.append(number)
                continue
            answers[number].append(
                (response.status_code, response.content, response.has_header("Idempotent-Replayed"))
            )
            return

    def terminal() -> None:
        client = APIClient()
        try:
            while True:
                try:
                    number, pair = jobs.get_nowait()
                except queue.Empty:
                    return
                if pair is not None:
                    pair.wait(timeout=30)
                post(client, number)
        except BaseException:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    threads = [threading.Thread(target=terminal, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(answers) == list(range(SALES))
    for number, responses in answers.items():
        statuses = {status for status, _content, _replayed in responses}
        assert statuses == {201}, (number, responses)  # no 5xx, and a replay is the same 201
        assert len({content for _status, content, _replayed in responses}) == 1, number
        first_answers = [r for r in responses if not r[2]]
        assert len(first_answers) == 1, number  # exactly one of them took effect
        expected_answers = 2 if number in together or number in later else 1
        assert len(responses) == expected_answers

    sales = Transaction.objects.filter(register=register)
    assert sales.count() == SALES
    assert set(sales.values_list("session_id", flat=True)) == {session.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(amount), COUNT(*) FROM sessions_app_transaction"
            " WHERE register_id = %s AND kind = 'sale' AND payment_method = 'cash'",
            [register.pk],
        )
        total, count = cursor.fetchone()
    assert count == SALES
    assert total == sum(_amount(number) for number in range(SALES))
    session = TrackingSession.objects.get(pk=session.pk)
    assert session.cash_sales_count == SALES
    assert session.current_expected_cash == D("150.00") + total


def test_a_register_change_racing_an_opening_sees_the_open_session(register, manager):
    """PATCH cash_tracking=false while a session is being opened: the change must wait for
    the opening's lock on the register and then be refused, never both pass."""
    from django.db import transaction

    from cashdrawer.authentication import issue_user_token
    from cashdrawer.models import Register

    secret = issue_user_token(user=manager).secret
    locked, patched = threading.Event(), threading.Event()
    answers: list[int] = []
    errors: list[str] = []

    def open_slowly() -> None:
        try:
            with transaction.atomic():
                Register.objects.select_for_update().get(pk=register.pk)  # as open_session
                locked.set()
                patched.wait(timeout=5)
                time.sleep(0.5)  # the PATCH has been sent; let it reach the lock and wait
                services.open_session(register=register, opening_float="150.00", by=manager)
        except BaseException:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    def patch() -> None:
        try:
            locked.wait(timeout=5)
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
            patched.set()
            response = client.patch(
                f"/api/v1/registers/{register.pk}/", {"cash_tracking": False}, format="json"
            )
            answers.append(response.status_code)
        except BaseException:
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    threads = [threading.Thread(target=open_slowly), threading.Thread(target=patch)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert answers == [400]
    register.refresh_from_db()
    assert register.cash_tracking is True
    assert TrackingSession.objects.filter(register=register, status="open").count() == 1
