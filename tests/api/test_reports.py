"""GET /api/v1/reports/discrepancy/ and /cash-payments/: the figures of the selectors in
the shapes of API.md, who may read them, and 400 for every bad parameter."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from reports import selectors
from tests import reports_fixtures
from tests.reports_fixtures import (
    CSV_URLS,
    DAY,
    REPORT_URLS,
    day_params,
    url,
)

# The chain of shops and a superuser, shared with the other report test modules.
chain = reports_fixtures.chain
root = reports_fixtures.root


@pytest.fixture
def api():
    return APIClient()


def get(api, user, name, params, **auth):
    api.force_authenticate(user, **auth)
    return api.get(url(name), params)


# --- figures ----------------------------------------------------------------------------


def test_discrepancy_report_has_the_shape_and_figures_of_the_day(api, chain, manager):
    response = get(api, manager, "report-discrepancy", day_params(chain.amsterdam))

    assert response.status_code == 200
    assert response.json() == {
        "location": chain.amsterdam.pk,
        "from": "2026-01-15",
        "to": "2026-01-15",
        "currency": "EUR",
        "sessions": 4,
        "not_counted_sessions": 1,
        # R1, Main C and Sub A are their registers' first sessions: first openings, kept
        # out of reported and counted, so counted - reported = the discrepancy.
        "start": {
            "reported": "150.00",
            "counted": "155.00",
            "discrepancy": "5.00",
            "first_openings": 3,
            "first_openings_float": "150.00",
        },
        "end": {
            "expected": "902.00",
            "counted": "902.50",
            "discrepancy": "0.50",
            "not_counted_sessions": 1,
            "not_counted_expected": "155.00",
        },
        "total_discrepancy": "5.50",
        "corrections": {"count": 0, "total": "0.00"},
        "total_discrepancy_after_corrections": "5.50",
    }


def test_discrepancy_report_equals_the_selector_over_any_range(api, chain, manager):
    first, last = DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=1)
    overview = selectors.discrepancy_overview(
        selectors.sessions_in_range([chain.amsterdam], first, last)
    )

    body = get(
        api, manager, "report-discrepancy", day_params(chain.amsterdam, first=first, last=last)
    ).json()

    assert body["sessions"] == overview.sessions == 5  # R3 of the next day too
    assert body["start"]["reported"] == f"{overview.start_reported:.2f}"
    assert body["start"]["counted"] == f"{overview.start_counted:.2f}"
    assert body["start"]["discrepancy"] == f"{overview.start_discrepancy:.2f}"
    assert body["end"]["expected"] == f"{overview.end_expected:.2f}"
    assert body["end"]["counted"] == f"{overview.end_counted:.2f}"
    assert body["end"]["discrepancy"] == f"{overview.end_discrepancy:.2f}"
    assert body["total_discrepancy"] == f"{overview.total_discrepancy:.2f}"


def test_cash_payments_report_has_the_shape_and_figures_of_the_day(api, chain, accountant):
    response = get(api, accountant, "report-cash-payments", day_params(chain.amsterdam))

    assert response.status_code == 200
    assert response.json() == {
        "location": chain.amsterdam.pk,
        "from": "2026-01-15",
        "to": "2026-01-15",
        "currency": "EUR",
        "gross": "765.50",
        "refunds": "5.50",
        "net": "760.00",
        "payments_count": 4,
        "refunds_count": 1,
    }
    overview = selectors.cash_payments_overview(
        selectors.sessions_in_range([chain.amsterdam], DAY, DAY)
    )
    assert response.json()["net"] == f"{overview.net:.2f}"


def test_yen_amounts_have_no_decimals(api, chain, root):
    body = get(api, root, "report-cash-payments", day_params(chain.tokyo)).json()
    assert (body["currency"], body["gross"], body["net"]) == ("JPY", "1500", "1500")

    body = get(api, root, "report-discrepancy", day_params(chain.tokyo)).json()
    assert body["start"] == {
        "reported": "0",
        "counted": "0",
        "discrepancy": "0",
        "first_openings": 1,
        "first_openings_float": "10000",
    }
    assert body["end"] == {
        "expected": "11500",
        "counted": "11500",
        "discrepancy": "0",
        "not_counted_sessions": 0,
        "not_counted_expected": "0",
    }


def test_an_empty_range_reports_zeros_not_nulls(api, chain, manager):
    params = day_params(chain.amsterdam, first=DAY.replace(year=2020), last=DAY.replace(year=2020))
    body = get(api, manager, "report-discrepancy", params).json()
    assert body["sessions"] == 0
    assert body["end"] == {
        "expected": "0.00",
        "counted": "0.00",
        "discrepancy": "0.00",
        "not_counted_sessions": 0,
        "not_counted_expected": "0.00",
    }
    assert body["corrections"] == {"count": 0, "total": "0.00"}


def test_location_may_be_left_out_by_a_user_of_one_location(api, chain, manager):
    response = get(api, manager, "report-cash-payments", day_params())
    assert response.status_code == 200
    assert response.json()["location"] == chain.amsterdam.pk


def test_a_json_report_of_a_user_of_several_locations_needs_the_location(api, chain):
    response = get(api, chain.chain_accountant, "report-discrepancy", day_params())
    assert response.status_code == 400
    assert list(response.json()) == ["location"]

    response = get(api, chain.chain_accountant, "report-discrepancy", day_params(chain.vienna))
    assert response.status_code == 200
    assert response.json()["total_discrepancy"] == "-5.00"


def test_the_browser_session_cookie_reads_reports(client, chain, accountant):
    client.force_login(accountant)
    response = client.get(url("report-discrepancy"), day_params(chain.amsterdam))
    assert response.status_code == 200
    assert response.json()["sessions"] == 4


# --- who may read -----------------------------------------------------------------------


@pytest.mark.parametrize("name", REPORT_URLS)
def test_managers_accountants_and_superusers_read_their_locations(
    api,
    chain,
    manager,
    accountant,
    root,
    name,
):
    for user, place in [
        (manager, chain.amsterdam),
        (accountant, chain.amsterdam),
        (chain.manager_b, chain.vienna),
        (root, chain.tokyo),
    ]:
        assert get(api, user, name, day_params(place)).status_code == 200, user


@pytest.mark.parametrize("name", REPORT_URLS)
def test_another_locations_report_is_not_found(api, chain, manager, name):
    response = get(api, manager, name, day_params(chain.vienna))
    assert response.status_code == 404
    assert "Vienna" not in response.content.decode()
    assert get(api, chain.manager_b, name, day_params(chain.amsterdam)).status_code == 404


@pytest.mark.parametrize("name", REPORT_URLS)
def test_an_unknown_location_is_not_found(api, chain, root, name):
    response = get(api, root, name, {**day_params(), "location": 999999})
    assert response.status_code == 404


@pytest.mark.parametrize("name", REPORT_URLS)
def test_cashiers_do_not_read_reports(api, chain, cashier, name):
    assert get(api, cashier, name, day_params(chain.amsterdam)).status_code == 403
    assert get(api, cashier, name, day_params()).status_code == 403


def test_a_manager_who_is_a_cashier_elsewhere_gets_403_there(api, chain, cashier, manager):
    from cashdrawer.models import Membership

    Membership.objects.create(user=manager, location=chain.vienna, role="cashier")
    response = get(api, manager, "report-discrepancy", day_params(chain.vienna))
    assert response.status_code == 403
    # Without a location, a CSV covers only the locations where they read reports.
    response = get(api, manager, "report-discrepancy-csv", day_params())
    rows = b"".join(response.streaming_content).decode().splitlines()
    assert len(rows) == 2 and "Amsterdam" in rows[1]


@pytest.mark.parametrize("name", REPORT_URLS)
def test_device_tokens_do_not_read_reports(api, chain, manager, register, name):
    device = SimpleNamespace(is_device_token=True, register_id=register.pk)
    response = get(api, manager, name, day_params(chain.amsterdam), token=device)
    assert response.status_code == 403


@pytest.mark.parametrize("name", REPORT_URLS)
def test_anonymous_requests_are_refused(api, chain, name):
    response = api.get(url(name), day_params(chain.amsterdam))
    assert response.status_code in (401, 403)
    assert "sessions" not in response.json()


def test_an_inactive_user_reads_nothing(api, chain, manager):
    manager.is_active = False
    manager.save()
    assert get(api, manager, "report-discrepancy", day_params(chain.amsterdam)).status_code in (
        401,
        403,
    )


# --- bad parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2026-01-15"}, "from"),
        ({"from": "2026-01-15"}, "to"),
        ({"from": "15-01-2026", "to": "2026-01-15"}, "from"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "2026-01-16", "to": "2026-01-15"}, "to"),
        ({"from": "2020-01-01", "to": "2026-01-15"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
        ({"from": "2026-01-15", "to": "2026-01-15", "location": "abc"}, "location"),
        ({"from": "2026-01-15", "to": "2026-01-15", "location": "0"}, "location"),
        ({"from": "2026-01-15", "to": "2026-01-15", "location": str(2**64)}, "location"),
    ],
)
@pytest.mark.parametrize("name", REPORT_URLS)
def test_bad_parameters_answer_400_by_field(api, chain, manager, name, params, field):
    response = get(api, manager, name, params)
    assert response.status_code == 400
    body = response.json()
    assert field in body
    assert all(isinstance(message, str) for message in body[field])


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("report-sessions-csv", {"ordering": "register"}, "ordering"),
        ("report-sessions-csv", {"ordering": "-id"}, "ordering"),
        ("report-journal-csv", {"dialect": "excel-us"}, "dialect"),
    ],
)
def test_bad_csv_options_answer_400(api, chain, manager, name, params, field):
    response = get(api, manager, name, day_params(chain.amsterdam, **params))
    assert response.status_code == 400
    assert field in response.json()


def test_a_range_of_three_years_is_allowed(api, chain, manager):
    params = day_params(chain.amsterdam, first=dt.date(2024, 1, 1), last=dt.date(2026, 12, 31))
    assert get(api, manager, "report-discrepancy", params).status_code == 200


@pytest.mark.parametrize("name", CSV_URLS)
def test_a_csv_error_is_json_even_when_csv_was_asked_for(api, chain, manager, name):
    api.force_authenticate(manager)
    response = api.get(url(name), {"from": "nope"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "from" in response.json()


# --- with real credentials (user and device tokens of the API core) ----------------------


def test_a_user_token_reads_reports_and_a_device_token_does_not(
    chain, manager, register, client_for, device_client_for
):
    params = day_params(chain.amsterdam)
    assert client_for(manager).get(url("report-discrepancy"), params).status_code == 200
    for name in REPORT_URLS:
        response = device_client_for(register).get(url(name), params)
        assert response.status_code == 403, name
        assert set(response.json()) == {"detail", "code"}


def test_no_credentials_answer_401_with_the_apis_error_shape(api, chain):
    response = api.get(url("report-journal-csv"), day_params(chain.amsterdam))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
