"""The shape of every page, not its clock: how many SQL queries a page, report, API list or
CSV file makes does not grow with the number of locations or of rows (no N+1).

Every URL of tests/pages_of_a_location.py is requested in a small chain (one store, one
day of history, a sale or two per session) and in a bigger one (three stores, several
days, many sales, an open session with more than a page of transactions); each answers
with the same number of queries in both. The counts are compared with each other, not
with fixed numbers, so a page may change how it reads as long as its reading keeps its
shape. No test here asserts a time. To see a page's queries in both chains:
QC_ONLY=<its URL name> scripts/test -n 0 -s tests/test_query_counts.py -k no_page.

And the CSV files stream: the first chunk of a file is sent while its query is still
being read (PostgreSQL still holds the open server-side cursor).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token, issue_user_token
from cashdrawer.models import Location, Membership, PaymentMethod, Register
from reports import exports
from sessions_app import services
from tests import pages_of_a_location as pages
from tests.conftest import LENIENT

# Pages whose queries may grow, and why.
GROWS = {
    # It reads each register and device of the rows once (reports/selectors.py
    # _JournalLookups); reports/journal_copy.py streams it with one COPY instead.
    "report-journal-csv": "the journal's Python path looks up each register and device once",
}


@dataclass(frozen=True)
class Size:
    """How big a chain to build."""

    stores: int
    days: int  # days of closed history per register
    sales: int  # cash sales per closed session
    open_sales: int  # sales of the open session (a page of the session shows 100)


SMALL = Size(stores=2, days=1, sales=1, open_sales=1)
BIG = Size(stores=4, days=4, sales=8, open_sales=130)


@contextmanager
def rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _sale(register, at, *, by, method="cash", kind="sale", amount="10.00") -> None:
    services.record_transaction(
        register=register,
        kind=kind,
        payment_method=method,
        amount=amount,
        occurred_at=at,
        received_at=at,
        by=by,
    )


def _store(number: int, size: Size, manager, cashier) -> tuple[Location, dict]:
    """A store with every kind of register and record: closed days with counts,
    adjustments, a correction, a shared closing, a close without a count (its alert),
    and at the end open sessions on the till and the blind register."""
    location = Location.objects.create(
        name=f"Store {number}",
        currency="EUR",
        timezone="Europe/Amsterdam",
        discrepancy_threshold=LENIENT,
    )
    PaymentMethod.objects.create(location=location, name="voucher")
    for user, role in ((manager, "manager"), (cashier, "cashier")):
        Membership.objects.create(user=user, location=location, role=role)

    def register(code: str, **fields):
        fields.setdefault("count_method", "total")
        made = Register(
            location=location, name=f"{code} {number}", code=f"{code}-{number}", **fields
        )
        made.full_clean()
        made.save()
        return made

    main = register("main", role="main", count_method="denominations")
    registers = {
        "till": register("till", default_float="150.00"),
        "blind": register("blind", default_float="100.00", blind_close=True),
        "main": main,
        "sub_a": register("sub-a", role="sub", main_register=main),
        "sub_b": register("sub-b", role="sub", main_register=main),
        "untracked": register("untracked", cash_tracking=False),
    }
    till = registers["till"]
    start = timezone.now() - dt.timedelta(days=size.days + 3)
    # The blind register's session is open from before the history on, with a sale first
    # and more at the end: the first page of the transaction list (oldest first) and the
    # last hold sales it hides from a cashier, whatever the size.
    blind = registers["blind"]
    services.open_session(register=blind, opening_float="100.00", by=cashier, at=start)
    _sale(blind, start + dt.timedelta(minutes=1), by=cashier)
    start += dt.timedelta(hours=1)
    for day in range(size.days):

        def at(hours: float, day=day) -> dt.datetime:
            return start + dt.timedelta(days=day, hours=hours)

        session = services.open_session(register=till, opening_float="150.00", by=manager, at=at(0))
        for sale in range(size.sales):
            _sale(till, at(1 + sale / 100), by=manager)
        _sale(till, at(2), by=manager, method="card")
        _sale(till, at(2.1), by=manager, method="voucher")
        _sale(till, at(2.2), by=cashier, kind="refund", amount="5.00")
        services.adjust_float(
            session=session, direction="out", amount="10.00", reason="over", by=manager, at=at(3)
        )
        services.close_session(
            session=session, counted="150.00", retained_float="150.00", by=manager, at=at(4)
        )
        services.add_correction(
            session=session, amount="-1.50", reason="a coin", by=manager, at=at(4.5)
        )
        main_session = services.open_session(
            register=main, opening_counts=[{"value": "50.00", "quantity": 2}], by=manager, at=at(5)
        )
        for key in ("sub_a", "sub_b"):
            sub = services.open_session(
                register=registers[key], opening_float="0.00", by=manager, at=at(5.1)
            )
            for sale in range(size.sales):
                _sale(registers[key], at(6 + sale / 100), by=cashier)
            services.close_session(session=sub, by=manager, at=at(7))
        services.close_session(
            session=main_session,
            counts=[{"value": "200.00", "quantity": 3}],
            by=manager,
            at=at(8),
        )
        uncounted = services.open_session(
            register=till, opening_float="150.00", by=manager, at=at(9)
        )
        services.close_session(session=uncounted, by=manager, at=at(10))
        _sale(registers["untracked"], at(2), by=manager, method="card")
    device = issue_device_token(register=registers["blind"], by=manager, name="blind device")
    for key in ("till", "main"):
        issue_device_token(register=registers[key], by=manager, name=f"{key} device")
    now = timezone.now() - dt.timedelta(hours=2)
    services.open_session(register=till, opening_float="150.00", by=manager, at=now)
    for sale in range(size.open_sales):
        _sale(till, now + dt.timedelta(seconds=sale + 1), by=manager)
    for sale in range(max(1, size.open_sales // 10)):
        # After the till's, so the first page of the transaction list holds both kinds.
        later = dt.timedelta(seconds=size.open_sales + sale + 1)
        _sale(blind, now + later, by=device.token)
    return location, {"registers": registers, "device": device}


def _chain(size: Size, make_user) -> tuple[pages.Objects, dict]:
    manager = make_user("maria", first_name="Maria")
    cashier = make_user("carl", first_name="Carl")
    root = make_user("root", is_superuser=True, is_staff=True)
    stores = [_store(number, size, manager, cashier) for number in range(size.stores)]
    location, held = stores[0]
    device_client = APIClient()
    device_client.credentials(HTTP_AUTHORIZATION=f"Token {held['device'].secret}")
    token_client = APIClient()
    token_client.credentials(HTTP_AUTHORIZATION=f"Token {issue_user_token(user=manager).secret}")
    clients = {pages.TOKEN: token_client, pages.DEVICE: device_client}
    for who, user in ((pages.MANAGER, manager), (pages.CASHIER, cashier), (pages.ADMIN, root)):
        clients[who] = Client()
        clients[who].force_login(user)
    # touched=set(): the latest object of each kind, so both chains request the same pages.
    objects = pages.objects_of(location, device_register=held["registers"]["blind"], touched=set())
    return objects, clients


def _request(client, visit: pages.Visit) -> list[str]:
    """The SQL of one request, its streamed content read to the end."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(visit.url, follow=visit.follow)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200, f"{visit.who} GET {visit.url} -> {response.status_code}"
    return [query["sql"] for query in queries.captured_queries]


def _queries_of_every_page(size: Size, make_user) -> dict[tuple, list[str]]:
    """The queries of each visit, keyed by its URL name, who asks and its place among
    the visits of that name; each requested twice and the second one kept, so caches
    filled by a first request (content types, a user's session) count in neither."""
    cache.clear()
    objects, clients = _chain(size, make_user)
    seen: Counter = Counter()
    found = {}
    for visit in pages.visits(objects):
        if os.environ.get("QC_ONLY") and visit.name != os.environ["QC_ONLY"]:
            continue
        key = (visit.name, visit.who, seen[(visit.name, visit.who)])
        seen[(visit.name, visit.who)] += 1
        _request(clients[visit.who], visit)
        found[key] = (visit.url, _request(clients[visit.who], visit))
    return found


def _shape(sql: str) -> str:
    """A query without its literal values, to name the ones that repeat."""
    sql = re.sub(r'"(_django_curs_|s)\d+_\w+"', '"?"', sql)  # cursor and savepoint names
    return re.sub(r"\b\d+\b|'[^']*'", "?", sql)[:160]


@pytest.mark.django_db
def test_no_page_makes_more_queries_with_more_locations_or_rows(make_user):
    with rolled_back():
        small = _queries_of_every_page(SMALL, make_user)
    with rolled_back():
        big = _queries_of_every_page(BIG, make_user)
    assert small.keys() == big.keys()
    grew = []
    for key, (url, queries) in big.items():
        _, small_queries = small[key]
        if key[0] in GROWS:
            continue
        if len(queries) != len(small_queries):
            shapes, small_shapes = (
                Counter(map(_shape, queries)),
                Counter(map(_shape, small_queries)),
            )
            extra = {"more": dict(shapes - small_shapes), "fewer": dict(small_shapes - shapes)}
            grew.append(
                f"{key[0]} ({key[1]}) {url}: {len(small_queries)} -> {len(queries)} queries; "
                f"{extra}"
            )
    if os.environ.get("QC_ONLY"):
        for key in big:
            print(key, *small[key][1], "=====", *big[key][1], sep="\n")
    assert not grew, "\n".join(grew)


# --- the CSV files stream ----------------------------------------------------------------


def _open_cursors() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["report-sessions-csv", "report-corrections-csv"])
def test_a_csv_file_streams_before_its_query_is_read_to_the_end(name, monkeypatch, make_user):
    """With small chunks, the first chunk of the file is out while PostgreSQL still holds
    the query's cursor open with rows unread, and the rows are read only as the file is."""
    if settings.DATABASES["default"].get("DISABLE_SERVER_SIDE_CURSORS"):
        pytest.skip("no server-side cursors (a transaction pooler): rows come in one fetch")
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    monkeypatch.setattr(exports, "CHUNK_CHARS", 1)
    objects, clients = _chain(Size(stores=1, days=4, sales=1, open_sales=1), make_user)
    query = {"location": objects.location.pk, "from": objects.first, "to": objects.last}
    response = clients[pages.TOKEN].get(reverse(name), query)
    assert response.status_code == 200
    assert response.streaming
    chunks = iter(response.streaming_content)
    assert _open_cursors() == 0  # nothing is read before the file is
    first = next(chunks)
    assert first.count(b"\r\n") == 2  # the header and one row
    assert _open_cursors() == 1  # the query is still being read
    rest = list(chunks)
    assert len(rest) > 2  # the other rows came a chunk at a time
    assert _open_cursors() == 0
