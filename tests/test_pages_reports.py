"""The back-office report pages: the cash-tracking overview and the session page.

Data is made only through the services, placed in time with their `at=` arguments, and
the figures on the page are checked against the selectors the API and CSV use.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cashdrawer.models import Location, Membership
from reports import selectors
from sessions_app import services
from sessions_app.models import Correction, TrackingSession

DAY = dt.date(2026, 1, 15)
OVERVIEW = "/overview/"


def _at(location, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=location.tzinfo)


def _sale(register, amount, at, *, kind="sale", method="cash", received_at=None):
    return services.record_transaction(
        register=register,
        kind=kind,
        payment_method=method,
        amount=amount,
        occurred_at=at,
        received_at=received_at or at,
    ).transaction


def _custom(first: dt.date, last: dt.date, **extra) -> dict:
    return {"range": "custom", "from": first.isoformat(), "to": last.isoformat(), **extra}


def _session_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-session="(\d+)"', response.content.decode())]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_days(location, register, make_register, manager):
    """Three sessions over DAY and DAY+1 at `location`, one of them with a late sale.

    - worked example of DOMAIN.md on R: expected 202.00, counted 200.00 → −2.00;
    - R the next day: opened 5.00 over, a late sale, closed without a count → +5.00;
    - R2 on DAY: counted 1.00 over → +1.00.
    """
    nxt = DAY + dt.timedelta(days=1)
    first = services.open_session(
        register=register, opening_float="150.00", by=manager, at=_at(location, DAY, 9)
    )
    _sale(register, "45.50", _at(location, DAY, 10))
    _sale(register, "20.00", _at(location, DAY, 11))
    _sale(register, "5.50", _at(location, DAY, 12), kind="refund")
    _sale(register, "80.00", _at(location, DAY, 13), method="card")
    services.adjust_float(
        session=first,
        direction="out",
        amount="10.00",
        reason="drawer over limit",
        by=manager,
        at=_at(location, DAY, 14),
    )
    services.adjust_float(
        session=first,
        direction="in",
        amount="2.00",
        reason="own money for change",
        by=manager,
        at=_at(location, DAY, 15),
    )
    services.close_session(
        session=first,
        counted="200.00",
        retained_float="150.00",
        by=manager,
        at=_at(location, DAY, 18),
    )

    second = services.open_session(
        register=register, opening_float="155.00", by=manager, at=_at(location, nxt, 9)
    )
    _sale(register, "10.00", _at(location, nxt, 10))
    # Occurred during the first session, arrived after it closed: late, on the second.
    late = _sale(register, "3.00", _at(location, DAY, 17), received_at=_at(location, nxt, 11))
    services.close_session(
        session=second, retained_float="150.00", by=manager, at=_at(location, nxt, 18)
    )

    r2 = make_register(location, name="R2", code="r2", count_method="total")
    third = services.open_session(
        register=r2, opening_float="100.00", by=manager, at=_at(location, DAY, 10)
    )
    _sale(r2, "30.00", _at(location, DAY, 11))
    services.close_session(
        session=third,
        counted="131.00",
        retained_float="100.00",
        by=manager,
        at=_at(location, DAY, 19),
    )
    assert late.late
    return {"first": first, "second": second, "third": third, "late": late}


# --- the overview ---------------------------------------------------------------------


def test_overview_figures_equal_the_selectors(two_days, location, manager):
    last = DAY + dt.timedelta(days=1)
    response = _client(manager).get(OVERVIEW, _custom(DAY, last, location=location.pk))

    assert response.status_code == 200
    sessions = selectors.sessions_in_range([location], DAY, last)
    expected = selectors.discrepancy_overview(sessions)
    payments = selectors.cash_payments_overview(sessions)
    assert response.context["discrepancy"] == expected
    assert response.context["payments"] == payments
    assert expected.sessions == 3
    assert expected.not_counted_sessions == 1
    assert expected.total_discrepancy == D("4.00")  # −2.00 + 5.00 + 1.00
    # Opening floats 405.00 in all, of which the first openings' (registers' first
    # sessions, no previous close) are on their own line, out of counted.
    assert expected.start_reported == D("150.00")
    assert expected.start_counted + expected.first_openings_float == D("405.00")
    assert expected.start_counted - expected.start_reported == expected.start_discrepancy
    assert (expected.end_expected, expected.end_counted) == (D("332.00"), D("331.00"))
    html = response.content.decode()
    counted = f"€{expected.start_counted:.2f}"
    first_openings = f"€{expected.first_openings_float:.2f}"
    for text in ("+€4.00", "€150.00", counted, first_openings, "€332.00", "€331.00", "+€5.00"):
        assert text in html, text
    assert "First openings" in html
    assert "−€2.00" in html  # the worked example's row in the session list
    assert "€108.50" in html  # gross: 45.50 + 20.00 + 10.00 + 3.00 + 30.00
    assert "€103.00" in html  # net: 108.50 − 5.50
    assert "not counted" in html
    assert "late" in html


def test_session_list_sorts_by_total_discrepancy_both_ways(two_days, location, manager):
    client = _client(manager)
    params = _custom(DAY, DAY + dt.timedelta(days=1), location=location.pk)
    first, second, third = two_days["first"], two_days["second"], two_days["third"]

    ascending = client.get(OVERVIEW, {**params, "ordering": "total_discrepancy"})
    descending = client.get(OVERVIEW, {**params, "ordering": "-total_discrepancy"})

    assert _session_ids(ascending) == [first.pk, third.pk, second.pk]  # −2, +1, +5
    assert _session_ids(descending) == [second.pk, third.pk, first.pk]
    # The active column shows its arrow, and its header link turns the order around.
    assert "▲" in ascending.content.decode()
    assert "ordering=-total_discrepancy" in ascending.context["sort"]["total_discrepancy"].query
    assert "▼" in descending.content.decode()
    # The session CSV keeps the order that is shown.
    assert "ordering=-total_discrepancy" in descending.context["exports"]["sessions"]["csv"]


def test_an_unknown_ordering_falls_back_to_newest_first(two_days, location, manager):
    params = _custom(DAY, DAY + dt.timedelta(days=1), location=location.pk)
    response = _client(manager).get(OVERVIEW, {**params, "ordering": "password"})

    assert response.status_code == 200
    first, second, third = two_days["first"], two_days["second"], two_days["third"]
    assert _session_ids(response) == [second.pk, third.pk, first.pk]


@pytest.fixture
def many_sessions(location, register, manager):
    """27 short sessions of R on DAY, one every 20 minutes."""
    start = _at(location, DAY, 6)
    for number in range(27):
        opened = start + dt.timedelta(minutes=20 * number)
        session = services.open_session(
            register=register, opening_float="150.00", by=manager, at=opened
        )
        services.close_session(
            session=session,
            counted="150.00",
            retained_float="150.00",
            by=manager,
            at=opened + dt.timedelta(minutes=10),
        )


def test_session_list_is_paginated_and_page_links_keep_the_scope(many_sessions, location, manager):
    client = _client(manager)
    params = _custom(DAY, DAY, location=location.pk, ordering="opened_at")

    page_one = client.get(OVERVIEW, params)
    page_two = client.get(OVERVIEW, {**params, "page": 2})

    assert len(_session_ids(page_one)) == 25
    assert len(_session_ids(page_two)) == 2
    assert set(_session_ids(page_one)).isdisjoint(_session_ids(page_two))
    html = page_one.content.decode()
    link = re.search(r'href="\?([^"]*page=2)[^"]*"', html).group(1)
    for part in (
        f"location={location.pk}",
        "range=custom",
        "from=2026-01-15",
        "ordering=opened_at",
    ):
        assert part in link
    # A broken page number shows a page, not an error.
    assert client.get(OVERVIEW, {**params, "page": "abc"}).status_code == 200
    assert len(_session_ids(client.get(OVERVIEW, {**params, "page": 99}))) == 2


def test_the_range_in_the_url_changes_the_figures(two_days, location, manager):
    client = _client(manager)
    nxt = DAY + dt.timedelta(days=1)

    day_one = client.get(OVERVIEW, _custom(DAY, DAY, location=location.pk))
    day_two = client.get(OVERVIEW, _custom(nxt, nxt, location=location.pk))

    assert day_one.context["discrepancy"].sessions == 2
    assert day_one.context["discrepancy"].total_discrepancy == D("-1.00")
    assert day_two.context["discrepancy"].sessions == 1
    assert day_two.context["discrepancy"].total_discrepancy == D("5.00")
    assert set(_session_ids(day_two)) == {two_days["second"].pk}


def test_preset_ranges_follow_today(location, register, manager):
    services.open_session(register=register, opening_float="150.00", by=manager)
    client = _client(manager)

    today = client.get(OVERVIEW, {"location": location.pk, "range": "today"})
    yesterday = client.get(OVERVIEW, {"location": location.pk, "range": "yesterday"})

    assert today.context["discrepancy"].sessions == 1
    assert yesterday.context["discrepancy"].sessions == 0
    assert "No sessions in this range" in yesterday.content.decode()
    assert reverse("operations:registers") in yesterday.content.decode()


def test_a_broken_custom_range_says_so_and_shows_the_default(location, manager):
    response = _client(manager).get(
        OVERVIEW, {"location": location.pk, "range": "custom", "from": "2026-02-10", "to": "x"}
    )
    assert response.status_code == 200
    assert "Enter both dates" in response.content.decode()
    assert response.context["scope"].period.key == "this_month"


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_date_at_the_end_of_the_calendar_is_refused_not_a_500(location, manager, day):
    response = _client(manager).get(
        OVERVIEW, {"location": location.pk, "range": "custom", "from": day, "to": day}
    )
    assert response.status_code == 200
    assert "Enter a date between" in response.content.decode()


def test_all_locations_shows_a_row_per_location_and_a_total(
    two_days, location, other_location, make_register, manager
):
    Membership.objects.create(user=manager, location=other_location, role="manager")
    vienna = make_register(other_location, name="V1", code="v1", count_method="total")
    session = services.open_session(
        register=vienna, opening_float="50.00", by=manager, at=_at(other_location, DAY, 9)
    )
    services.close_session(
        session=session,
        counted="47.00",
        retained_float="0.00",
        by=manager,
        at=_at(other_location, DAY, 17),
    )

    response = _client(manager).get(OVERVIEW, _custom(DAY, DAY + dt.timedelta(days=1)))

    assert response.status_code == 200
    rows = response.context["location_rows"]
    assert [row.location for row in rows] == [location, other_location]
    assert rows[1].discrepancy.total_discrepancy == D("-3.00")
    both = selectors.sessions_in_range([location, other_location], DAY, DAY + dt.timedelta(1))
    assert response.context["discrepancy"] == selectors.discrepancy_overview(both)
    html = response.content.decode()
    assert "All locations" in html
    assert "+€1.00" in html  # 4.00 − 3.00, the total row in one currency
    assert len(_session_ids(response)) == 4


def test_all_locations_in_different_currencies_has_no_total(
    two_days, location, new_york_location, manager
):
    Membership.objects.create(user=manager, location=new_york_location, role="manager")
    response = _client(manager).get(OVERVIEW, _custom(DAY, DAY + dt.timedelta(days=1)))

    assert response.context["currency"] is None
    assert "different currencies" in response.content.decode()


def test_the_session_csv_link_downloads_the_rows_in_the_order_shown(two_days, location, manager):
    client = _client(manager)
    params = _custom(DAY, DAY + dt.timedelta(days=1), location=location.pk)
    page = client.get(OVERVIEW, {**params, "ordering": "-total_discrepancy"})
    exports = page.context["exports"]
    html = page.content.decode()
    for key in ("discrepancy", "payments", "sessions", "journal"):
        assert exports[key]["csv"].replace("&", "&amp;") in html
        assert exports[key]["excel_eu"].endswith("&dialect=excel-eu")
    assert exports["discrepancy"]["csv"].startswith("/api/v1/reports/discrepancy.csv?")

    download = client.get(exports["sessions"]["csv"])

    assert download.status_code == 200
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()[1:]
    assert [int(line.split(",")[0]) for line in lines] == _session_ids(page)


# --- access ---------------------------------------------------------------------------


@pytest.fixture
def other_manager(make_user, other_location):
    return make_user("otto", location=other_location, role="manager")


@pytest.fixture
def other_session(other_location, make_register, other_manager):
    register = make_register(other_location, name="V1", code="v1", count_method="total")
    session = services.open_session(
        register=register, opening_float="10.00", by=other_manager, at=_at(other_location, DAY, 9)
    )
    return services.close_session(
        session=session,
        counted="10.00",
        retained_float="10.00",
        by=other_manager,
        at=_at(other_location, DAY, 10),
    )


def test_a_manager_sees_their_own_location(two_days, location, manager):
    client = _client(manager)
    assert client.get(OVERVIEW, {"location": location.pk}).status_code == 200
    assert client.get(reverse("reports:session", args=[two_days["first"].pk])).status_code == 200


def test_another_locations_pages_answer_404(two_days, other_location, other_session, manager):
    client = _client(manager)
    assert client.get(OVERVIEW, {"location": other_location.pk}).status_code == 404
    assert client.get(reverse("reports:session", args=[other_session.pk])).status_code == 404
    response = client.post(
        reverse("reports:add_correction", args=[other_session.pk]),
        {"amount": "1.00", "reason": "not mine"},
    )
    assert response.status_code == 404
    assert not Correction.objects.exists()
    assert client.get(OVERVIEW, {"location": "not-a-number"}).status_code == 404


def test_an_accountant_reads_but_cannot_correct(two_days, location, accountant):
    client = _client(accountant)
    session = two_days["first"]

    assert client.get(OVERVIEW, {"location": location.pk}).status_code == 200
    page = client.get(reverse("reports:session", args=[session.pk]))
    assert page.status_code == 200
    assert 'name="reason"' not in page.content.decode()
    assert "Add a correction" not in page.content.decode()

    response = client.post(
        reverse("reports:add_correction", args=[session.pk]),
        {"amount": "2.00", "reason": "found it"},
    )
    assert response.status_code == 403
    assert not Correction.objects.exists()


def test_a_cashier_sees_no_expected_cash_of_a_sub_whose_main_closes_blind(
    location, make_register, main_register, sub_a, cashier, manager
):
    main_register.blind_close = True
    main_register.save()
    services.open_session(register=main_register, opening_float="100.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="5.00", by=cashier)
    _sale(sub_a, "17.53", None)
    url = reverse("reports:session", args=[sub.pk])
    expected = "€22.53"  # 5.00 + 17.53: part of what the main register counts blind

    assert expected not in _client(cashier).get(url).content.decode()
    assert expected in _client(manager).get(url).content.decode()
    # Closed, its transfer is still part of the main's blind count until the main closes.
    services.close_session(session=sub, by=cashier)
    closed = _client(cashier).get(url).content.decode()
    assert "Transferred to main" in closed
    assert expected not in closed
    assert expected in _client(manager).get(url).content.decode()


def test_a_cashier_gets_no_overview(location, cashier):
    response = _client(cashier).get(OVERVIEW)
    assert response.status_code == 403
    assert "managers and accountants" in response.content.decode()
    assert reverse("operations:registers") in response.content.decode()


def test_a_cashier_sees_their_session_without_the_expected_cash_of_a_blind_close(
    location, make_register, cashier, manager
):
    register = make_register(
        location, name="Blind", code="blind", count_method="total", blind_close=True
    )
    session = services.open_session(register=register, opening_float="123.00", by=cashier)
    _sale(register, "10.01", None)
    url = reverse("reports:session", args=[session.pk])

    as_cashier = _client(cashier).get(url)
    as_manager = _client(manager).get(url)

    assert as_cashier.status_code == 200
    assert "€133.01" not in as_cashier.content.decode()
    assert "blind close" in as_cashier.content.decode()
    assert "€133.01" in as_manager.content.decode()
    # Nor can a cashier correct anything.
    services.close_session(session=session, counted="133.01", by=manager)
    response = _client(cashier).post(
        reverse("reports:add_correction", args=[session.pk]), {"amount": "1", "reason": "x"}
    )
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(two_days):
    client = Client()
    for url in (OVERVIEW, reverse("reports:session", args=[two_days["first"].pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


# --- the session page -----------------------------------------------------------------


def test_the_session_page_shows_what_rule_7_lists(two_days, manager):
    response = _client(manager).get(reverse("reports:session", args=[two_days["first"].pk]))

    html = response.content.decode()
    for text in (
        "€145.50",  # total sales, all methods
        "€5.50",  # refunds on their own
        "€202.00",  # expected cash at close
        "€200.00",  # counted
        "−€2.00",  # end and total discrepancy
        "€50.00",  # cash removed
        "drawer over limit",
        "own money for change",
        "Maria",  # who opened, adjusted and closed
        "Card",
        "€80.00",
    ):
        assert text in html, text
    assert "first session" in html  # no previous closing float


def test_a_late_transaction_is_marked(two_days, manager):
    response = _client(manager).get(reverse("reports:session", args=[two_days["second"].pk]))
    html = response.content.decode()
    assert 'class="badge late"' in html
    assert "already closed when it arrived" in html
    assert "not counted" in html


def test_a_main_session_lists_its_subs_and_a_sub_links_to_its_main(
    location, main_register, sub_a, manager
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    _sale(sub_a, "300.00", None)
    services.close_session(session=sub, by=manager)
    client = _client(manager)

    main_page = client.get(reverse("reports:session", args=[main.pk])).content.decode()
    sub_page = client.get(reverse("reports:session", args=[sub.pk])).content.decode()

    assert reverse("reports:session", args=[sub.pk]) in main_page
    assert "Sub A" in main_page and "€300.00" in main_page
    assert reverse("reports:session", args=[main.pk]) in sub_page
    assert "Transferred to main" in sub_page


# --- corrections ----------------------------------------------------------------------


def test_a_manager_adds_a_correction_and_the_session_stays_as_it_was(
    two_days, manager, session_figures
):
    session = two_days["first"]
    before = session_figures(session)

    response = _client(manager).post(
        reverse("reports:add_correction", args=[session.pk]),
        {"amount": "-2.00", "reason": "Two euro coin found under the drawer"},
        follow=True,
    )

    assert response.redirect_chain[-1][0].startswith(reverse("reports:session", args=[session.pk]))
    correction = Correction.objects.get()
    assert correction.session == session
    assert correction.amount == D("-2.00")
    assert correction.created_by == manager
    assert session_figures(session) == before
    html = response.content.decode()
    assert "The correction was added." in html
    assert "Two euro coin found under the drawer" in html
    assert "−€4.00" in html  # after corrections: −2.00 − 2.00


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "2.00", "reason": ""}, "reason", "Say why"),
        ({"amount": "", "reason": "why"}, "amount", "Enter an amount"),
        ({"amount": "abc", "reason": "why"}, "amount", "is not a number"),
        ({"amount": "1.234", "reason": "why"}, "amount", "at most 2 decimals"),
        ({"amount": "0", "reason": "why"}, "amount", "more than 0"),
    ],
)
def test_a_wrong_correction_is_shown_beside_its_field(
    two_days, manager, db_rows, data, field, message
):
    session = two_days["first"]
    client = _client(manager)  # before counting: a login is audited
    rows = db_rows()

    response = client.post(reverse("reports:add_correction", args=[session.pk]), data)

    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field])
    assert message in response.content.decode()
    assert db_rows() == rows


def test_an_open_session_cannot_be_corrected(location, register, manager, db_rows):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    client = _client(manager)  # before counting: a login is audited
    rows = db_rows()

    response = client.post(
        reverse("reports:add_correction", args=[session.pk]),
        {"amount": "1.00", "reason": "x"},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("reports:session", args=[session.pk]), 302)]
    assert "Only a closed session can be corrected." in response.content.decode()
    assert db_rows() == rows


def test_register_operations_are_offered_on_an_open_session_to_operators(
    location, register, manager, accountant
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    url = reverse("reports:session", args=[session.pk])
    adjust = reverse("operations:adjust", args=[session.pk])
    close = reverse("operations:close", args=[session.pk])

    as_manager = _client(manager).get(url).content.decode()
    as_accountant = _client(accountant).get(url).content.decode()

    assert adjust in as_manager and close in as_manager
    assert adjust not in as_accountant and close not in as_accountant


def test_a_correction_needs_a_post(two_days, manager):
    url = reverse("reports:add_correction", args=[two_days["first"].pk])
    assert _client(manager).get(url).status_code == 405


def test_a_correction_without_csrf_token_is_refused(two_days, manager):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    response = client.post(
        reverse("reports:add_correction", args=[two_days["first"].pk]),
        {"amount": "1.00", "reason": "no token"},
    )

    assert response.status_code == 403
    assert not Correction.objects.exists()


def test_a_user_without_any_location_gets_a_friendly_page(db):
    user = get_user_model().objects.create_user(username="nobody", password="x-long-pass")
    response = _client(user).get(OVERVIEW)
    assert response.status_code == 403
    assert TrackingSession.objects.count() == 0
    assert Location.objects.count() == 0


# --- a busy session: transactions in pages, the correction form behind a button --------


def _sales(register, count: int, start: dt.datetime) -> list:
    """`count` cash sales a minute apart from `start`, oldest first."""
    return [
        _sale(register, "1.00", start + dt.timedelta(minutes=minute)) for minute in range(count)
    ]


def _transaction_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-transaction="(\d+)"', response.content.decode())]


@pytest.fixture
def busy_open_session(location, register, manager):
    session = services.open_session(
        register=register, opening_float="150.00", by=manager, at=_at(location, DAY, 7)
    )
    return session, _sales(register, 250, _at(location, DAY, 8))


def test_an_open_sessions_transactions_come_newest_first_100_a_page(busy_open_session, manager):
    session, sales = busy_open_session
    newest_first = [sale.pk for sale in reversed(sales)]
    client = _client(manager)
    url = reverse("reports:session", args=[session.pk])

    first = client.get(url)
    assert _transaction_ids(first) == newest_first[:100]
    html = first.content.decode()
    assert '<span class="count-pill">250</span>' in html  # the count is of them all
    assert "Transactions 1–100 of 250" in html
    assert _transaction_ids(client.get(url, {"tx_page": 2})) == newest_first[100:200]
    assert _transaction_ids(client.get(url, {"tx_page": 3})) == newest_first[200:]
    # A page beyond the last or not a number shows the nearest page rather than failing.
    assert _transaction_ids(client.get(url, {"tx_page": 9})) == newest_first[200:]
    assert _transaction_ids(client.get(url, {"tx_page": "x"})) == newest_first[:100]


def test_the_audit_trail_of_a_busy_session_is_paged_like_its_transactions(
    busy_open_session, manager
):
    """An entry per sale: 251 entries (the open and 250 sales), 100 a page, newest first
    while the session is open."""
    session, sales = busy_open_session
    client = _client(manager)
    url = reverse("reports:session", args=[session.pk])

    def objects(response) -> list[str]:
        return [entry.object_id for entry in response.context["audit_trail"]]

    newest_first = [str(sale.pk) for sale in reversed(sales)] + [str(session.pk)]
    first = client.get(url)
    assert objects(first) == newest_first[:100]
    html = first.content.decode()
    assert "Entries 1–100 of 251" in html
    assert '<span class="count-pill">251</span>' in html
    assert 'href="?audit_page=2#audit-trail"' in html
    assert objects(client.get(url, {"audit_page": 3})) == newest_first[200:]
    assert objects(client.get(url, {"audit_page": "x"})) == newest_first[:100]
    # Out of range, however far (beyond what a database integer holds): the last page,
    # as Django's Paginator.get_page gives it.
    for far in (9, 10**20, 0, -(10**20)):
        response = client.get(url, {"audit_page": far, "tx_page": far})
        assert response.status_code == 200
        assert objects(response) == newest_first[200:]


def test_the_transaction_page_links_keep_the_other_parameters(busy_open_session, manager):
    session, _sales_made = busy_open_session
    url = reverse("reports:session", args=[session.pk])
    html = _client(manager).get(url, {"tx_page": 2, "from": "overview"}).content.decode()
    for number in (1, 3):
        assert f'href="?tx_page={number}&amp;from=overview#transactions"' in html


def test_a_closed_sessions_transactions_stay_in_order_also_in_pages(location, register, manager):
    session = services.open_session(
        register=register, opening_float="150.00", by=manager, at=_at(location, DAY, 7)
    )
    sales = _sales(register, 150, _at(location, DAY, 8))
    services.close_session(session=session, counted="300.00", by=manager, at=_at(location, DAY, 18))
    client = _client(manager)
    url = reverse("reports:session", args=[session.pk])

    assert _transaction_ids(client.get(url)) == [sale.pk for sale in sales[:100]]
    assert _transaction_ids(client.get(url, {"tx_page": 2})) == [sale.pk for sale in sales[100:]]


def test_the_session_page_reads_as_many_queries_whatever_its_transactions(
    location, register, manager
):
    session = services.open_session(
        register=register, opening_float="150.00", by=manager, at=_at(location, DAY, 7)
    )
    _sales(register, 3, _at(location, DAY, 8))
    client = _client(manager)
    url = reverse("reports:session", args=[session.pk])
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200

    _sales(register, 250, _at(location, DAY, 9))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(_transaction_ids(response)) == 100
    assert len(many) == len(few)


def test_the_correction_form_opens_from_a_button_and_stays_open_with_errors(two_days, manager):
    session = two_days["first"]
    client = _client(manager)

    html = client.get(reverse("reports:session", args=[session.pk])).content.decode()
    assert '<details class="correction-details" id="add-correction">' in html
    assert "Add a correction</summary>" in html

    response = client.post(
        reverse("reports:add_correction", args=[session.pk]), {"amount": "2.00", "reason": ""}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert '<details class="correction-details" id="add-correction" open>' in html
    assert "data-scroll-into-view" in html  # static/js/app.js scrolls to it
