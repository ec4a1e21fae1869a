"""The SQL statements of a terminal's cash sale (POST /api/v1/transactions/ with a device
token and an Idempotency-Key), pinned exactly: every one is a round trip to the database
on the hottest path of the API, so a new one must be a decision, not an accident.

In a real transaction (transaction=True), as under the server: BEGIN and COMMIT are
counted, and the blocks inside it are no savepoints of the test's own.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cashdrawer.authentication import issue_device_token
from sessions_app.models import TrackingSession, Transaction
from tests.api.conftest import client_with

URL = "/api/v1/transactions/"

pytestmark = pytest.mark.django_db(transaction=True)

# A sale on an open session: the token (with its user and the user's role at the
# register's location), BEGIN, the Idempotency-Key's record (with its wait bound, in one
# message), the register locked (with "does the location take this method?") and then the
# open session locked (in one message), the running totals and the transaction (in one
# message), the audit entry, the answer stored on the key's record, COMMIT.
SALE = 8
# The first sale of the day opens the session: the last close read, the session and its
# audit entry; and the token's first use of the minute writes last_used_at.
FIRST_SALE_OPENING = SALE + 4
# A repeat with the key: the token, BEGIN, the INSERT that finds the record, the record
# read, COMMIT.
REPLAY = 5


def post(client, register, key: str, amount: str = "2.50"):
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            URL,
            {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": amount},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
    return response, [query["sql"] for query in queries.captured_queries]


def test_a_cash_sale_by_a_terminal_takes_a_fixed_number_of_queries(register, manager):
    client = client_with(issue_device_token(register=register, by=manager).secret)

    response, queries = post(client, register, "sale-1")
    assert response.status_code == 201, response.content
    assert len(queries) == FIRST_SALE_OPENING, "\n".join(queries)
    session = TrackingSession.objects.get(register=register)
    assert session.opened_automatically

    response, queries = post(client, register, "sale-2", amount="4.00")
    assert response.status_code == 201, response.content
    assert len(queries) == SALE, "\n".join(queries)

    first = response.json()
    response, queries = post(client, register, "sale-2", amount="4.00")
    assert response.status_code == 201
    assert response["Idempotent-Replayed"] == "true"
    assert response.json() == first
    assert len(queries) == REPLAY, "\n".join(queries)

    # Fewer statements, the same effect: two sales, their totals, one session.
    assert Transaction.objects.filter(register=register).count() == 2
    session.refresh_from_db()
    assert session.cash_sales == Decimal("6.50")
    assert session.cash_sales_count == 2
    assert session.total_sales == Decimal("6.50")


def test_an_unknown_payment_method_is_still_refused_with_the_known_ones(register, manager):
    """The method is checked in the register's locking query now; a miss still answers
    the location's methods, and changes nothing."""
    client = client_with(issue_device_token(register=register, by=manager).secret)
    response = client.post(
        URL,
        {"register": register.pk, "kind": "sale", "payment_method": "bitcoin", "amount": "1"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="unknown-method",
    )
    assert response.status_code == 400, response.content
    assert "cash" in str(response.json())
    assert not Transaction.objects.exists()
    assert not TrackingSession.objects.exists()
