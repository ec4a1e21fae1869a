"""Filters of the session list (issue 11): register, opened_by, closed_by, status,
counted, late, discrepancy and min_discrepancy narrow the report page, the report API, its
CSV downloads and GET /api/v1/sessions/ alike, and the overviews over what they keep.

The chain of reports_fixtures, Amsterdam on DAY: R1 (counted, -2.00), R2 (+5.00 at the
start, closed without a count), Main C (counted, +2.50) and Sub A (0.00, counted at C).
A late sale here lands on R3, the next day's open session.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_user_token
from reports import selectors
from sessions_app import services
from tests import reports_fixtures
from tests.reports_fixtures import DAY, day_params, local, read_csv, url

chain = reports_fixtures.chain

OVERVIEW = "/overview/"
NEXT_DAY = DAY + dt.timedelta(days=1)


@pytest.fixture
def late_chain(chain, register):
    """The chain with a late sale: it happened during R2 and arrives the next morning."""
    services.record_transaction(
        register=register,
        kind="sale",
        payment_method="cash",
        amount="3.00",
        occurred_at=local(chain.amsterdam, 17, 45),
        received_at=local(chain.amsterdam, 10, 30, days=1),
    )
    return chain


def _page_ids(client: Client, **params) -> set[int]:
    response = client.get(OVERVIEW, {"location": params.pop("location"), **_range(), **params})
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'data-session="(\d+)"', response.content.decode())}


def _range(first=DAY, last=NEXT_DAY) -> dict:
    return {"range": "custom", "from": first.isoformat(), "to": last.isoformat()}


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _csv_ids(api: APIClient, location, **params) -> set[int]:
    response = api.get(url("report-sessions-csv"), day_params(location, last=NEXT_DAY, **params))
    assert response.status_code == 200, response.content
    return {int(row["id"]) for row in read_csv(response)}


def _sessions_api_ids(api: APIClient, location, **params) -> set[int]:
    response = api.get(
        "/api/v1/sessions/",
        {
            "location": location.pk,
            "opened_from": DAY.isoformat(),
            "opened_to": NEXT_DAY.isoformat(),
            "page_size": 100,
            **params,
        },
    )
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _everywhere(chain, manager, **params) -> set[int]:
    """The sessions a filter keeps, the same on the page, in the CSV and in the API."""
    client = Client()
    client.force_login(manager)
    api = _api(manager)
    page = _page_ids(client, location=chain.amsterdam.pk, **params)
    assert _csv_ids(api, chain.amsterdam, **params) == page, params
    assert _sessions_api_ids(api, chain.amsterdam, **params) == page, params
    return page


def test_each_filter_narrows_page_csv_and_api_the_same_way(late_chain, manager, register):
    c = late_chain
    everything = {c.r1.pk, c.r2.pk, c.r3.pk, c.main.pk, c.sub.pk}
    assert _everywhere(c, manager) == everything
    assert _everywhere(c, manager, register=register.pk) == {c.r1.pk, c.r2.pk, c.r3.pk}
    # R3 was opened by the late sale itself: nobody opened it.
    assert _everywhere(c, manager, opened_by=manager.pk) == everything - {c.r3.pk}
    assert _everywhere(c, manager, closed_by=manager.pk) == everything - {c.r3.pk}
    assert _everywhere(c, manager, status="open") == {c.r3.pk}
    assert _everywhere(c, manager, status="closed") == everything - {c.r3.pk}
    assert _everywhere(c, manager, counted="true") == {c.r1.pk, c.main.pk}
    # As the overview's "not counted" line: a sub is counted at its main.
    assert _everywhere(c, manager, counted="false") == {c.r2.pk}
    assert _everywhere(c, manager, late="true") == {c.r3.pk}
    assert _everywhere(c, manager, late="false") == everything - {c.r3.pk}
    assert _everywhere(c, manager, discrepancy="short") == {c.r1.pk}
    assert _everywhere(c, manager, discrepancy="over") == {c.r2.pk, c.main.pk}
    assert _everywhere(c, manager, discrepancy="any") == {c.r1.pk, c.r2.pk, c.main.pk}
    assert _everywhere(c, manager, min_discrepancy="2.50") == {c.r2.pk, c.main.pk}
    assert _everywhere(c, manager, min_discrepancy="2") == {c.r1.pk, c.r2.pk, c.main.pk}
    assert _everywhere(c, manager, min_discrepancy="0") == everything


def test_filters_combine(late_chain, manager, register):
    c = late_chain
    assert _everywhere(c, manager, register=register.pk, discrepancy="over") == {c.r2.pk}
    assert _everywhere(c, manager, discrepancy="over", counted="true") == {c.main.pk}
    assert _everywhere(c, manager, discrepancy="any", min_discrepancy="3") == {c.r2.pk}
    assert _everywhere(c, manager, status="open", discrepancy="any") == set()


def test_an_id_from_another_store_finds_nothing(chain, manager):
    vienna_register = chain.vienna_session.register_id
    assert _everywhere(chain, manager, register=vienna_register) == set()
    assert _everywhere(chain, manager, opened_by=chain.manager_b.pk) == set()


# --- the overviews over the filtered sessions ---------------------------------------------


def test_the_overviews_are_those_of_the_filtered_sessions(chain, manager):
    api = _api(manager)
    short = api.get(url("report-discrepancy"), day_params(chain.amsterdam, discrepancy="short"))
    assert short.status_code == 200
    body = short.json()
    # Only R1: a first opening counted 2.00 short.
    assert body["sessions"] == 1
    assert body["total_discrepancy"] == "-2.00"
    assert body["end"] == {
        "expected": "202.00",
        "counted": "200.00",
        "discrepancy": "-2.00",
        "not_counted_sessions": 0,
        "not_counted_expected": "0.00",
    }
    assert body["start"]["first_openings"] == 1

    over = api.get(url("report-discrepancy"), day_params(chain.amsterdam, discrepancy="over"))
    # R2 and Main C: each block still adds up, with R2 on the "not counted" line.
    assert over.json()["total_discrepancy"] == "7.50"
    assert over.json()["start"]["discrepancy"] == "5.00"
    assert over.json()["end"]["not_counted_sessions"] == 1

    payments = api.get(url("report-cash-payments"), day_params(chain.amsterdam, counted="false"))
    assert payments.json()["gross"] == "0.00"  # R2 took a card payment only


@pytest.mark.parametrize("filters", [{"discrepancy": "short"}, {"discrepancy": "over"}])
def test_the_total_discrepancy_is_the_sum_of_the_sessions_kept(chain, manager, filters):
    client = Client()
    client.force_login(manager)
    response = client.get(OVERVIEW, {"location": chain.amsterdam.pk, **_range(DAY, DAY), **filters})
    kept = selectors.sessions_in_range([chain.amsterdam], DAY, DAY).filter(
        pk__in=response.context["page"].paginator.object_list.values("pk")
    )
    overview = response.context["discrepancy"]
    assert overview.total_discrepancy == sum(s.total_discrepancy for s in kept)
    assert overview.sessions == kept.count()
    # The charts read the same sessions: their closed-session count is the list's.
    assert response.context["charts"] is not None


def test_the_discrepancy_csv_and_all_locations_rows_follow_the_filter(chain):
    chain_accountant = chain.chain_accountant
    api = _api(chain_accountant)
    rows = read_csv(api.get(url("report-discrepancy-csv"), day_params(discrepancy="short")))
    by_location = {row["location"]: row for row in rows}
    assert by_location[chain.amsterdam.name]["total_discrepancy"] == "-2.00"
    assert by_location[chain.vienna.name]["total_discrepancy"] == "-5.00"
    assert by_location[chain.amsterdam.name]["sessions"] == "1"

    client = Client()
    client.force_login(chain_accountant)
    response = client.get(OVERVIEW, {"location": "all", **_range(DAY, DAY), "discrepancy": "over"})
    totals = {
        row.location: row.discrepancy.total_discrepancy for row in response.context["location_rows"]
    }
    assert totals == {chain.amsterdam: D("7.50"), chain.vienna: D("0.00")}


# --- what the page says -------------------------------------------------------------------


def test_the_page_lists_the_filters_in_use_with_links_that_drop_them(chain, manager, register):
    client = Client()
    client.force_login(manager)
    params = {"location": chain.amsterdam.pk, **_range(DAY, DAY)}
    response = client.get(
        OVERVIEW,
        {**params, "register": register.pk, "discrepancy": "over", "ordering": "closed_at"},
    )
    html = response.content.decode()
    chips = response.context["active_filters"]
    assert [chip.text for chip in chips] == [f"Register: {register.name}", "Discrepancy: over"]
    # Removing one keeps the other, the range and the order.
    assert (
        "discrepancy" not in chips[1].remove_query
        and f"register={register.pk}" in chips[1].remove_query
    )
    assert "ordering=closed_at" in chips[1].remove_query
    assert "data-clear-filters" in html
    # An amount reads as the amounts beside it: 1,234.50 in English, 1.234,50 in Dutch.
    english = client.get(OVERVIEW, {**params, "min_discrepancy": "1234.5"})
    assert [c.text for c in english.context["active_filters"]] == [
        "Discrepancy of at least 1,234.50"
    ]
    dutch = client.get(OVERVIEW, {**params, "min_discrepancy": "1234.5"}, HTTP_ACCEPT_LANGUAGE="nl")
    assert "1.234,50" in dutch.context["active_filters"][0].text
    clear = response.context["clear_filters"]
    assert "register" not in clear and "discrepancy" not in clear and "from=2026-01-15" in clear
    # Sorting, paging and the CSV buttons carry the filters.
    assert "discrepancy=over" in response.context["sort"]["opened_at"].query
    assert "discrepancy=over" in response.context["exports"]["sessions"]["csv"]
    assert "discrepancy=over" in response.context["exports"]["discrepancy"]["excel_eu"]
    assert f"register={register.pk}" in response.context["exports"]["journal"]["csv"]


def test_no_match_says_so_and_offers_to_clear(chain, manager):
    client = Client()
    client.force_login(manager)
    response = client.get(
        OVERVIEW, {"location": chain.amsterdam.pk, **_range(DAY, DAY), "status": "open"}
    )
    assert response.status_code == 200
    assert "data-no-match" in response.content.decode()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "ajar"),
        ("counted", "yes"),
        ("late", "1"),
        ("discrepancy", "under"),
        ("min_discrepancy", "-1"),
        ("min_discrepancy", "abc"),
        ("min_discrepancy", "1.005"),
        ("min_discrepancy", "NaN"),
        ("min_discrepancy", "1" + "0" * 20),
        ("register", "x"),
        ("opened_by", str(2**63)),
    ],
)
def test_a_bad_filter_is_a_400_in_the_api_and_a_form_error_on_the_page(chain, manager, name, value):
    api = _api(manager)
    for report in ("report-discrepancy", "report-sessions-csv", "report-journal-csv"):
        response = api.get(url(report), day_params(chain.amsterdam, **{name: value}))
        assert response.status_code == 400, (report, response.content)
        assert list(response.json()) == [name]
    listed = api.get("/api/v1/sessions/", {name: value})
    assert listed.status_code == 400 and name in listed.json()

    client = Client()
    client.force_login(manager)
    response = client.get(
        OVERVIEW, {"location": chain.amsterdam.pk, **_range(DAY, DAY), name: value}
    )
    assert response.status_code == 200
    assert f'data-filter-error="{name}"' in response.content.decode()
    assert response.context["active_filters"] == []  # not applied: the full list shows
    assert response.context["page"].paginator.count == 4


# --- who sees what ------------------------------------------------------------------------


def test_a_discrepancy_filter_does_not_reveal_an_open_blind_sessions_start(
    location, make_register, cashier, manager
):
    blind = make_register(
        location, name="Blind", code="blind", count_method="total", blind_close=True
    )
    first = services.open_session(register=blind, opening_float="50.00", by=manager)
    services.close_session(session=first, counted="50.00", retained_float="50.00", by=manager)
    # 5.00 short at the start; sealed from the cashier until the close.
    sealed = services.open_session(register=blind, opening_float="45.00", by=cashier)
    assert sealed.start_discrepancy == D("-5.00")

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_user_token(user=cashier).secret}")
    for params in ({"discrepancy": "short"}, {"discrepancy": "any"}, {"min_discrepancy": "5"}):
        ids = {row["id"] for row in api.get("/api/v1/sessions/", params).json()["results"]}
        assert sealed.pk not in ids, params

    # After the close the cashier sees the figures anyway, and the filter finds it.
    services.close_session(session=sealed, counted="45.00", by=cashier)
    ids = {
        row["id"]
        for row in api.get("/api/v1/sessions/", {"discrepancy": "short"}).json()["results"]
    }
    assert sealed.pk in ids


def test_a_cashier_still_reaches_no_report(chain, cashier):
    response = _api(cashier).get(url("report-sessions-csv"), day_params(discrepancy="short"))
    assert response.status_code == 403


# --- queries ------------------------------------------------------------------------------


def _sessions(register, manager, count: int, start: dt.datetime) -> None:
    """`count` sessions, each opened with what the last one kept and counted 1.00 short."""
    last = register.sessions.filter(status="closed").order_by("-closed_at").first()
    drawer = last.retained_float if last else D("100.00")
    for number in range(count):
        at = start + dt.timedelta(minutes=10 * number)
        session = services.open_session(register=register, opening_float=drawer, by=manager, at=at)
        drawer -= 1
        services.close_session(
            session=session,
            counted=drawer,
            retained_float=drawer,
            by=manager,
            at=at + dt.timedelta(minutes=5),
        )


FILTERS = {
    "status": "closed",
    "counted": "true",
    "late": "false",
    "discrepancy": "short",
    "min_discrepancy": "0.50",
}


def test_the_filtered_page_reads_as_many_queries_for_2_and_20_sessions(location, register, manager):
    client = Client()
    client.force_login(manager)
    params = {"location": location.pk, **_range(DAY, DAY), **FILTERS, "opened_by": manager.pk}
    counts = []
    for count in (2, 18):
        _sessions(register, manager, count, local(location, 6) + dt.timedelta(hours=len(counts)))
        with CaptureQueriesContext(connection) as queries:
            response = client.get(OVERVIEW, params)
        assert response.status_code == 200
        counts.append(len(queries))
    assert response.context["page"].paginator.count == 20
    assert counts[0] == counts[1]


def test_the_filtered_sessions_api_reads_as_many_queries_for_2_and_20(location, register, manager):
    api = _api(manager)
    counts = []
    for count in (2, 18):
        _sessions(register, manager, count, local(location, 6) + dt.timedelta(hours=len(counts)))
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/sessions/", {**FILTERS, "page_size": 100})
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.json()["results"]) == 20
    assert counts[0] == counts[1]
