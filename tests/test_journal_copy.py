"""reports/journal_copy.py: the cash journal CSV streamed by PostgreSQL's COPY holds the
very bytes of the Python path (reports/exports.py), streams, and leaves the connection
ready when the client goes away mid-download."""

from __future__ import annotations

import datetime as dt
import re
import sys
import threading
import zoneinfo
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from cashdrawer.authentication import issue_device_token
from cashdrawer.models import Location, Membership
from reports import exports, journal_copy, selectors
from sessions_app import services
from sessions_app.models import Adjustment, TrackingSession, Transaction
from tests import reports_fixtures
from tests.conftest import LENIENT
from tests.reports_fixtures import DAY, day_params, sell, url

chain = reports_fixtures.chain
root = reports_fixtures.root

FIRST, LAST = dt.date(2026, 1, 1), dt.date(2026, 12, 31)

# Text a spreadsheet would run, in ASCII and in the forms NFKC turns into it; text the
# CSV must quote; text that must stay as it is.
AWKWARD_TEXTS = [
    "=1+2",
    "＝HYPERLINK()",
    "﹢31",
    "－5",
    "＠SUM",
    "⁺1",
    "\tx",
    "\rx",
    'a "quoted", text; with\nnew lines\r\n',
    "Zoë ⟨ok⟩",
    "\\.",
    " ",
]


def python_path(sessions, dialect: exports.Dialect) -> bytes:
    rows = exports.journal_rows(selectors.cash_journal(sessions))
    return "".join(exports.stream_csv(exports.JOURNAL_COLUMNS, rows, dialect)).encode()


def copy_path(sessions, dialect: exports.Dialect) -> bytes:
    return b"".join(journal_copy.stream_journal(sessions, dialect))


@pytest.fixture
def rich(chain, make_register, make_user, manager):
    """The report chain, and beside it what the journal has to get right: locations in
    time zones with half-hour and historical offsets, days when the clocks change, a
    yen register, device tokens with and without a name, names with Unicode spaces,
    text to neutralise and to quote, ties in time, a late sale, microseconds."""
    st_johns = Location.objects.create(
        name='=St. John\'s; "Water St"',
        currency="CAD",
        timezone="America/St_Johns",
        discrepancy_threshold=LENIENT,
    )
    kolkata = Location.objects.create(
        name="Kolkata", currency="JPY", timezone="Asia/Kolkata", discrepancy_threshold=LENIENT
    )
    for place in (st_johns, kolkata):
        Membership.objects.create(user=manager, location=place, role="manager")
    zoe = make_user(
        "zoe", location=st_johns, role="cashier", first_name="\u00a0Zoë", last_name="Ærø\u2003"
    )
    nameless = make_user("+nameless", location=st_johns, role="cashier")
    evil = make_user("evil", location=kolkata, role="cashier", first_name="=cmd|' /C calc'!A0")

    till = make_register(st_johns, name='Till, "1"\nupstairs', code="sj1", count_method="total")
    device = issue_device_token(register=till, by=manager).token
    named_device = issue_device_token(register=till, by=manager, name="－tablet").token

    tz = zoneinfo.ZoneInfo("America/St_Johns")
    # 8 March 2026: St. John's moves from -03:30 to -02:30 at 02:00 local.
    start = dt.datetime(2026, 3, 8, 0, 30, tzinfo=tz)
    first = services.open_session(register=till, opening_float="50.00", by=zoe, at=start)
    moments = [start + dt.timedelta(minutes=20 * n, microseconds=999_999) for n in range(1, 12)]
    for n, moment in enumerate(moments):
        by = (zoe, device, named_device, nameless, None)[n % 5]
        sell(till, f"{n + 1}.25", moment, by=by, method="cash" if n % 2 else "card")
    # A tie: a sale and an adjustment at the same instant, and two sales.
    tie = moments[-1] + dt.timedelta(minutes=5)
    services.adjust_float(
        session=first, direction="in", amount="3.00", reason="＝tie", by=zoe, at=tie
    )
    sell(till, "1.00", tie, by=zoe)
    sell(till, "2.00", tie, by=zoe)
    services.close_session(
        session=first,
        counted="60.00",
        retained_float="50.00",
        by=zoe,
        at=tie + dt.timedelta(hours=1),
    )
    second = services.open_session(
        register=till, opening_float="50.00", by=zoe, at=tie + dt.timedelta(hours=3)
    )
    # Late: it occurred while the first session was open, and arrived after its close.
    services.record_transaction(
        register=till,
        kind="sale",
        payment_method="cash",
        amount="4.00",
        occurred_at=moments[3],
        received_at=tie + dt.timedelta(hours=4),
        by=device,
    )
    # Cells the services would refuse but a row may hold: every awkward text, an empty
    # external id, and a sale in 1930 (St. John's then ran at -03:30:52).
    for n, text in enumerate(AWKWARD_TEXTS):
        Transaction.objects.create(
            register=till,
            session=second,
            kind="refund" if n % 3 == 0 else "sale",
            payment_method=text,
            amount=Decimal("0.50"),
            occurred_at=tie + dt.timedelta(hours=5, seconds=n),
            received_at=tie + dt.timedelta(hours=5, seconds=n),
            external_id=text,
            recorded_by=evil if n % 2 else None,
            recorded_by_device=named_device if n % 2 == 0 else None,
        )
        Adjustment.objects.create(
            session=second,
            direction="out" if n % 2 else "in",
            amount=Decimal("0.10"),
            reason=text or "x",
            created_at=tie + dt.timedelta(hours=5, seconds=n),
            created_by=zoe,
        )
    Transaction.objects.create(
        register=till,
        session=second,
        kind="sale",
        payment_method="cash",
        amount=Decimal("1.00"),
        occurred_at=dt.datetime(1930, 6, 1, 12, tzinfo=tz),
        received_at=dt.datetime(1930, 6, 1, 12, tzinfo=tz),
        external_id="",
    )

    # Amsterdam's clocks go back on 25 October 2026: 02:30 happens twice.
    ams = chain.amsterdam
    register = make_register(ams, name="Autumn", code="autumn", count_method="total")
    autumn = dt.datetime(2026, 10, 25, 0, 0, tzinfo=ams.tzinfo)
    session = services.open_session(
        register=register, opening_float="150.00", by=manager, at=autumn
    )
    for fold in (0, 1):
        moment = dt.datetime(2026, 10, 25, 2, 30, 15, 500, tzinfo=ams.tzinfo, fold=fold)
        sell(register, "7.77", moment, by=manager)
    services.close_session(
        session=session,
        counted="165.54",
        retained_float="150.00",
        by=manager,
        at=autumn + dt.timedelta(hours=6),
    )

    yen = make_register(kolkata, name="Yen", code="yen", count_method="total")
    yen_session = services.open_session(
        register=yen,
        opening_float="1000",
        by=evil,
        at=dt.datetime(2026, 7, 1, 9, tzinfo=kolkata.tzinfo),
    )
    sell(yen, "1500", dt.datetime(2026, 7, 1, 10, tzinfo=kolkata.tzinfo), by=evil)
    services.adjust_float(
        session=yen_session,
        direction="out",
        amount="500",
        reason="-bank",
        by=evil,
        at=dt.datetime(2026, 7, 1, 11, tzinfo=kolkata.tzinfo),
    )
    return chain


def all_sessions():
    return selectors.sessions_in_range(Location.objects.all(), FIRST, LAST)


@pytest.mark.parametrize("dialect", ["excel", "excel-eu"])
def test_copy_writes_the_bytes_of_the_python_path(rich, dialect):
    expected = python_path(all_sessions(), exports.DIALECTS[dialect])
    assert copy_path(all_sessions(), exports.DIALECTS[dialect]) == expected
    # The data are what they are meant to be: every kind of row and awkward cell is there.
    text = expected.decode()
    for needle in (
        "closing_transfer",
        "adjustment_out",
        ",true,",
        "(device)",
        "'＝tie",
        "'=St. John",
    ):
        if dialect == "excel-eu":
            needle = needle.replace(",", ";")
        assert needle in text
    if dialect == "excel":
        assert "-02:30:52" in text and "+05:30" in text and "-02:30" in text


@pytest.mark.parametrize("dialect", ["excel", "excel-eu"])
def test_read_in_time_order_the_bytes_are_the_same(rich, monkeypatch, dialect):
    """Big selections are read in time order from the indexes instead of being sorted."""
    monkeypatch.setattr(journal_copy, "SORT_AT_MOST_SESSIONS", 0)
    expected = python_path(all_sessions(), exports.DIALECTS[dialect])
    assert copy_path(all_sessions(), exports.DIALECTS[dialect]) == expected


def test_read_in_time_order_between_bounds_the_bytes_are_the_same(rich, monkeypatch):
    """A part of the chain read in time order between the bounds its rows have: a sale of
    1930 and a late sale of the session before are still in place, in both dialects."""
    bounds_of = journal_copy._time_bounds
    monkeypatch.setattr(
        journal_copy,
        "_read_order",
        lambda sessions, *, connection: (True, bounds_of(sessions, connection=connection)),
    )
    late = TrackingSession.objects.get(transactions__late=True)
    selections = [
        TrackingSession.objects.filter(pk=late.pk),
        TrackingSession.objects.filter(location=late.location),
        selectors.sessions_in_range([rich.amsterdam], DAY, DAY),
        all_sessions(),
    ]
    for sessions in selections:
        assert sessions.exists()
        for dialect in exports.DIALECTS.values():
            assert copy_path(sessions, dialect) == python_path(sessions, dialect)


def test_the_bounds_hold_every_row_of_the_selected_sessions(rich):
    """From the data, not from the sessions' times: a row may lie long before its session."""
    late = TrackingSession.objects.get(transactions__late=True)
    bounds = journal_copy._time_bounds(
        TrackingSession.objects.filter(pk=late.pk), connection=connection
    )
    for rows, span, field in [
        (late.transactions.all(), bounds.transactions, "occurred_at"),
        (late.adjustments.all(), bounds.adjustments, "created_at"),
    ]:
        times = list(rows.values_list(field, flat=True))
        assert span[0] <= min(times) and max(times) <= span[1]
    assert bounds.transactions[0].year == 1930
    assert bounds.window_sessions >= 1
    nothing = journal_copy._time_bounds(
        TrackingSession.objects.filter(pk=-1), connection=connection
    )
    assert nothing.transactions == nothing.transfers == (None, None)


def test_in_time_order_nothing_is_sorted(rich):
    """The shape that gives the first byte of a year at once: a Merge Append of index
    scans, the selected sessions a hashed filter, no Sort anywhere."""
    query, params = journal_copy.journal_sql(
        all_sessions(),
        exports.DIALECTS["excel"],
        connection=connection,
        in_time_order=True,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in journal_copy.plan_settings(True):
            cursor.execute(setting)
        cursor.execute("EXPLAIN " + query, params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Merge Append" in plan
    assert "Sort Key" in plan  # the Merge Append's
    assert not re.search(r"(^|->)\s*(Incremental )?Sort\s+\(", plan, re.MULTILINE)
    for index in (
        "transaction_time_order",
        "adjustment_time_order_idx",
        "transfer_time_order_idx",
    ):
        assert index in plan
    # Each branch looks its rows' sessions up among the selected; no hash of them is
    # built before the first row.
    assert "Hash" not in plan


def test_an_empty_journal_is_its_header(db):
    for dialect in exports.DIALECTS.values():
        sessions = TrackingSession.objects.none()
        assert copy_path(sessions, dialect) == python_path(sessions, dialect)


def test_one_location_of_the_chain(rich):
    sessions = selectors.sessions_in_range([rich.amsterdam], DAY, DAY)
    for dialect in exports.DIALECTS.values():
        assert copy_path(sessions, dialect) == python_path(sessions, dialect)


@pytest.mark.parametrize("dialect", ["excel", "excel-eu"])
def test_the_download_is_the_python_paths(rich, root, client, monkeypatch, dialect):
    """Through the API, and through the page's download links (which are the API's)."""
    client.force_login(root)
    params = day_params(first=FIRST, last=LAST, dialect=dialect)
    response = client.get(url("report-journal-csv"), params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "journal_all-locations_2026-01-01_2026-12-31.csv" in response["Content-Disposition"]
    copied = b"".join(response.streaming_content)
    monkeypatch.setattr(journal_copy, "is_available", lambda using="default": False)
    reference = client.get(url("report-journal-csv"), params)
    assert copied == b"".join(reference.streaming_content)
    assert copied.count(b"\r\n") > 60


def test_the_pages_download_link_serves_the_copy(rich, root, client, monkeypatch):
    client.force_login(root)
    page = client.get(
        reverse("reports:overview"),
        {"location": rich.amsterdam.pk, "from": DAY.isoformat(), "to": DAY.isoformat()},
    )
    assert page.status_code == 200
    links = page.context["exports"]["journal"]
    for link in (links["csv"], links["excel_eu"]):
        copied = b"".join(client.get(link).streaming_content)
        monkeypatch.setattr(journal_copy, "is_available", lambda using="default": False)
        reference = b"".join(client.get(link).streaming_content)
        monkeypatch.undo()
        assert copied == reference


def test_the_formula_characters_are_all_in_the_first_plane():
    assert journal_copy._formula_first_characters(sys.maxunicode) == (
        journal_copy.FORMULA_FIRST_CHARACTERS
    )
    assert {"＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "\t", "\r"} <= set(
        journal_copy.FORMULA_FIRST_CHARACTERS
    )


# --- streaming and going away ------------------------------------------------------------


def busy_register(make_register, location, manager, rows: int) -> None:
    register = make_register(location, name="Busy", code="busy")
    opened = dt.datetime(2026, 1, 15, 6, tzinfo=location.tzinfo)
    session = services.open_session(register=register, opening_float="0.00", by=manager, at=opened)
    Transaction.objects.bulk_create(
        Transaction(
            register=register,
            session=session,
            kind="sale",
            payment_method="card",
            amount=Decimal("1.00"),
            occurred_at=opened + dt.timedelta(seconds=n),
            received_at=opened + dt.timedelta(seconds=n),
            recorded_by=manager,
        )
        for n in range(rows)
    )


def copy_in_progress() -> bool:
    return connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE


def test_the_first_chunk_leaves_before_the_copy_ends(location, manager, make_register):
    busy_register(make_register, location, manager, rows=5000)
    chunks = journal_copy.stream_journal(
        selectors.sessions_in_range([location], DAY, DAY), exports.DIALECTS["excel"]
    )
    first = next(chunks)
    assert first.startswith(b"at,location,")
    assert copy_in_progress()  # the rest is still being read from the server
    rest = b"".join(chunks)
    assert not copy_in_progress()
    assert (first + rest).count(b"\r\n") == 5001


@pytest.mark.django_db(transaction=True)
def test_a_client_that_goes_away_leaves_the_connection_ready(location, manager, make_register):
    """Outside any test transaction, as in a real request: the COPY is cancelled, its
    transaction rolled back, and the next query on the connection works."""
    busy_register(make_register, location, manager, rows=20000)
    chunks = journal_copy.stream_journal(
        selectors.sessions_in_range([location], DAY, DAY), exports.DIALECTS["excel"]
    )
    next(chunks)
    assert copy_in_progress()
    chunks.close()  # what the server does when the client disconnects
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not connection.in_atomic_block
    assert Transaction.objects.count() == 20000


@pytest.mark.django_db(transaction=True)
def test_a_sale_committed_while_the_download_starts_is_in_all_of_it_or_none(
    location, manager, make_register, monkeypatch
):
    """The bounds are read before the COPY: a terminal's sale committed in between, one
    inside the bounds and one after them, must not be half in the file (one snapshot)."""
    register = make_register(location, name="Open", code="open")
    opened = dt.datetime(2026, 1, 15, 6, tzinfo=location.tzinfo)
    services.open_session(register=register, opening_float="0.00", by=manager, at=opened)
    for minutes in (10, 20, 30):
        sell(register, "1.00", opened + dt.timedelta(minutes=minutes), by=manager)
    sessions = TrackingSession.objects.filter(register=register)
    dialect = exports.DIALECTS["excel"]
    before = python_path(sessions, dialect)
    bounds_of = journal_copy._time_bounds

    def bounds_then_two_sales(selection, *, connection):
        bounds = bounds_of(selection, connection=connection)

        def terminal():
            try:
                for minutes in (15, 45):  # inside the bounds, and after them
                    sell(register, "2.00", opened + dt.timedelta(minutes=minutes), by=manager)
            finally:
                connections.close_all()

        thread = threading.Thread(target=terminal)
        thread.start()
        thread.join()
        return True, bounds

    monkeypatch.setattr(journal_copy, "_read_order", bounds_then_two_sales)
    assert copy_path(sessions, dialect) == before
    monkeypatch.undo()
    assert Transaction.objects.filter(register=register).count() == 5  # both were kept
    assert copy_path(sessions, dialect) == python_path(sessions, dialect) != before


def test_a_response_closed_mid_download_inside_a_transaction(rich, root, client):
    client.force_login(root)
    response = client.get(url("report-journal-csv"), day_params(first=FIRST, last=LAST))
    next(iter(response.streaming_content))
    # What the server does when the client goes away: close the response. Through the
    # test client's own wrapper of the content (the generator streaming_content maps),
    # which keeps the end of the request from closing the test's connection.
    response._iterator.close()
    assert Location.objects.filter(name="Kolkata").exists()


def test_only_a_selection_of_most_sessions_is_read_in_time_order(rich, monkeypatch):
    """In time order the scan walks every session's rows of its stretch of time: most of
    the chain is read from its start, a part of it between the bounds of its rows (the
    last month of a year: its first row would be months away), a small one is sorted."""
    monkeypatch.setattr(journal_copy, "SORT_AT_MOST_SESSIONS", 0)
    sessions = all_sessions()
    assert sessions.count() >= 3
    assert journal_copy._read_order(sessions, connection=connection) == (True, None)
    first = sessions.order_by("opened_at", "pk").first()
    _, bounds = journal_copy._read_order(sessions.filter(pk=first.pk), connection=connection)
    assert bounds is not None
    monkeypatch.setattr(journal_copy, "SORT_AT_MOST_SESSIONS", sessions.count())
    assert journal_copy._read_order(sessions, connection=connection) == (False, None)


def test_a_selection_without_a_filter_streams_too(rich):
    """Every session, a query without parameters: its text is sent as it is written."""
    dialect = exports.DIALECTS["excel"]
    everything = TrackingSession.objects.all()
    assert copy_path(everything, dialect) == python_path(everything, dialect)
