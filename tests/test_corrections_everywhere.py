"""Corrections count in every figure (issue 9, item 2): the API to read and add them, the
session's corrections_total and total after corrections wherever a session shows, the
discrepancy overview, and corrections.csv.

The chain of tests/reports_fixtures.py: R1 closed -2.00 short, R2 not counted (+5.00 at
the start), Main C +2.50 with Sub A, all on 15 January 2026 in Amsterdam.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from sessions_app import services
from sessions_app.models import Correction
from tests import reports_fixtures
from tests.api import conftest as api_fixtures
from tests.reports_fixtures import DAY, day_params, local, read_csv, url

pytestmark = pytest.mark.django_db

chain = reports_fixtures.chain
client_for = api_fixtures.client_for
device_client_for = api_fixtures.device_client_for
root = reports_fixtures.root


def _corrections_url(session) -> str:
    return reverse("session-corrections", args=[session.pk])


def _correct(session, amount, reason, by, *, hour=20):
    return services.add_correction(
        session=session, amount=amount, reason=reason, by=by, at=local(session.location, hour)
    )


# --- the API: GET and POST sessions/{id}/corrections/ ------------------------------------


def test_a_manager_adds_a_correction_through_the_api(chain, client_for, manager):
    client = client_for(manager)
    answer = client.post(
        _corrections_url(chain.r1),
        {"amount": "-2.00", "reason": "coin counted twice"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["session"] == chain.r1.pk
    assert body["register"] == chain.r1.register_id
    assert body["amount"] == "-2.00"
    assert body["reason"] == "coin counted twice"
    assert body["created_by"]["id"] == manager.pk
    assert body["created_by"]["name"]
    assert body["created_by"].get("kind", "user") == "user"  # a person, never a device
    assert body["correction_number"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", body["correction_hash"])

    listed = client.get(_corrections_url(chain.r1)).json()
    assert listed["count"] == 1
    assert listed["results"][0] == body

    session = client.get(reverse("session-detail", args=[chain.r1.pk])).json()
    assert session["total_discrepancy"] == "-2.00"
    assert session["corrections_total"] == "-2.00"
    assert session["total_discrepancy_after_corrections"] == "-4.00"


def test_a_correction_given_as_a_json_number_is_exact(chain, client_for, manager):
    answer = client_for(manager).post(
        _corrections_url(chain.r1), {"amount": -0.1, "reason": "x"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["amount"] == "-0.10"


def test_a_correction_is_idempotent_with_its_key(chain, client_for, manager):
    client = client_for(manager)
    body = {"amount": "1.50", "reason": "found under the drawer"}
    first = client.post(
        _corrections_url(chain.r1), body, format="json", headers={"Idempotency-Key": "c-1"}
    )
    again = client.post(
        _corrections_url(chain.r1), body, format="json", headers={"Idempotency-Key": "c-1"}
    )
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Correction.objects.filter(session=chain.r1).count() == 1
    other = client.post(
        _corrections_url(chain.r1),
        {**body, "amount": "2.50"},
        format="json",
        headers={"Idempotency-Key": "c-1"},
    )
    assert other.status_code == 422


@pytest.mark.parametrize("role", ["cashier", "accountant"])
def test_only_managers_post_corrections(chain, client_for, make_user, role):
    someone = make_user(f"a-{role}", location=chain.amsterdam, role=role)
    client = client_for(someone)
    answer = client.post(
        _corrections_url(chain.r1), {"amount": "1.00", "reason": "x"}, format="json"
    )
    assert answer.status_code == 403
    assert client.get(_corrections_url(chain.r1)).status_code == 200
    assert not Correction.objects.exists()


def test_a_device_token_reads_but_does_not_correct(chain, device_client_for, register):
    device = device_client_for(register)
    assert device.get(_corrections_url(chain.r1)).status_code == 200
    answer = device.post(
        _corrections_url(chain.r1), {"amount": "1.00", "reason": "x"}, format="json"
    )
    assert answer.status_code == 403
    assert device.get(_corrections_url(chain.main)).status_code == 403
    assert not Correction.objects.exists()


def test_another_locations_session_is_not_found(chain, client_for):
    client = client_for(chain.manager_b)
    assert client.get(_corrections_url(chain.r1)).status_code == 404
    answer = client.post(
        _corrections_url(chain.r1), {"amount": "1.00", "reason": "x"}, format="json"
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0.00", "reason": "x"}, "amount"),
        ({"amount": "-0", "reason": "x"}, "amount"),
        ({"amount": "1.005", "reason": "x"}, "amount"),
        ({"amount": "--1", "reason": "x"}, "amount"),
        ({"amount": "-1e3", "reason": "x"}, "amount"),
        ({"amount": "-100000.01", "reason": "x"}, "amount"),
        ({"amount": "1.00", "reason": "   "}, "reason"),
        ({"amount": "1.00"}, "reason"),
        ({"reason": "x"}, "amount"),
    ],
)
def test_a_refused_correction_answers_400_and_stores_nothing(
    chain, client_for, manager, body, field
):
    answer = client_for(manager).post(_corrections_url(chain.r1), body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not Correction.objects.exists()


def test_an_open_session_cannot_be_corrected(chain, client_for, manager):
    answer = client_for(manager).post(
        _corrections_url(chain.r3), {"amount": "1.00", "reason": "x"}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "session_not_closed"


# --- the figures: every face of a session and of the overview ----------------------------


@pytest.fixture
def corrected(chain, manager):
    """R1 (-2.00) corrected by -2.00 and +0.50; Main C (+2.50) by -2.50."""
    first = _correct(chain.r1, "-2.00", "coin counted twice", manager, hour=20)
    second = _correct(chain.r1, "0.50", "=found under the drawer", manager, hour=21)
    third = _correct(chain.main, "-2.50", "miscounted note", manager, hour=22)
    return [first, second, third]


def test_the_session_list_and_sessions_csv_carry_the_corrections(
    chain, corrected, client_for, manager
):
    from reports import selectors

    rows = {
        s.pk: s
        for s in selectors.session_list(
            selectors.sessions_in_range([chain.amsterdam], DAY, DAY), "-opened_at"
        )
    }
    assert rows[chain.r1.pk].corrections_total == Decimal("-1.50")
    assert rows[chain.r1.pk].total_discrepancy_after_corrections == Decimal("-3.50")
    assert rows[chain.main.pk].total_discrepancy_after_corrections == Decimal("0.00")
    assert rows[chain.r2.pk].corrections_total == Decimal("0.00")

    response = client_for(manager).get(
        url("report-sessions-csv"), day_params(chain.amsterdam, dialect="excel-eu")
    )
    by_id = {row["id"]: row for row in read_csv(response, delimiter=";")}
    r1 = by_id[str(chain.r1.pk)]
    assert (r1["total_discrepancy"], r1["corrections_total"]) == ("-2,00", "-1,50")
    assert r1["total_discrepancy_after_corrections"] == "-3,50"
    assert by_id[str(chain.r2.pk)]["corrections_total"] == "0,00"
    # The sub's cash went to the main register: removed there, not twice.
    sub = by_id[str(chain.sub.pk)]
    assert (sub["cash_removed"], sub["transferred_to_main"]) == ("0,00", "300,00")


def test_the_session_api_lists_the_figures_for_every_session(
    chain, corrected, client_for, accountant
):
    body = client_for(accountant).get("/api/v1/sessions/", {"location": chain.amsterdam.pk}).json()
    by_id = {row["id"]: row for row in body["results"]}
    assert by_id[chain.r1.pk]["corrections_total"] == "-1.50"
    assert by_id[chain.r1.pk]["total_discrepancy_after_corrections"] == "-3.50"
    assert by_id[chain.main.pk]["total_discrepancy_after_corrections"] == "0.00"
    assert by_id[chain.sub.pk]["cash_removed"] == "0.00"
    assert by_id[chain.sub.pk]["transferred_to_main"] == "300.00"
    assert by_id[chain.main.pk]["transferred_to_main"] == "0.00"
    assert by_id[chain.r3.pk]["transferred_to_main"] is None  # still open


def test_the_discrepancy_overview_json_and_csv_show_the_corrections(
    chain, corrected, client_for, manager
):
    client = client_for(manager)
    report = client.get(url("report-discrepancy"), day_params(chain.amsterdam)).json()
    assert report["total_discrepancy"] == "5.50"
    assert report["corrections"] == {"count": 3, "total": "-4.00"}
    assert report["total_discrepancy_after_corrections"] == "1.50"

    [row] = read_csv(client.get(url("report-discrepancy-csv"), day_params(chain.amsterdam)))
    assert (row["corrections"], row["corrections_total"]) == ("3", "-4.00")
    assert row["total_discrepancy_after_corrections"] == "1.50"

    # The overview page shows them too, beside the total.
    client_page = _page_client(manager)
    page = client_page.get(
        reverse("reports:overview"),
        {"location": chain.amsterdam.pk, "range": "custom", "from": DAY, "to": DAY},
    )
    assert page.context["discrepancy"].corrections_total == Decimal("-4.00")
    html = page.content.decode()
    assert "After corrections" in html
    assert "+€1.50" in html
    assert "−€3.50" in html  # R1's row in the session list
    assert reverse("report-corrections-csv") in html


def _page_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_corrections_csv_lists_each_correction_with_its_numbers(chain, corrected, client_for, root):
    response = client_for(root).get(url("report-corrections-csv"), day_params())
    assert response["Content-Disposition"].endswith(
        'filename="corrections_all-locations_2026-01-15_2026-01-15.csv"'
    )
    rows = read_csv(response)
    assert [row["id"] for row in rows] == [str(c.pk) for c in corrected]
    first = rows[0]
    assert first == {
        "id": str(corrected[0].pk),
        "at": "2026-01-15T20:00:00+01:00",
        "location": "Amsterdam",
        "currency": "EUR",
        "register": "R",
        "session": str(chain.r1.pk),
        "closing_number": str(chain.r1.closing_number),
        "amount": "-2.00",
        "reason": "coin counted twice",
        "created_by": first["created_by"],
        "correction_number": "1",
        "correction_hash": corrected[0].correction_hash,
    }
    assert first["created_by"]
    assert rows[1]["reason"] == "'=found under the drawer"  # a formula, neutralised
    assert rows[1]["correction_number"] == "2"
    assert rows[2]["register"] == "Main C"
    assert rows[2]["correction_number"] == "1"  # numbered per register


def test_corrections_csv_is_empty_for_a_range_without_corrected_sessions(
    chain, corrected, client_for, manager
):
    params = day_params(chain.amsterdam, first=DAY.replace(year=2020), last=DAY.replace(year=2020))
    response = client_for(manager).get(url("report-corrections-csv"), params)
    assert response.status_code == 200
    assert read_csv(response) == []


def test_the_session_page_shows_corrections_total_and_after_corrections(chain, corrected, manager):
    page = _page_client(manager).get(reverse("reports:session", args=[chain.r1.pk]))
    html = page.content.decode()
    assert 'data-figure="corrections-total">−€1.50' in html
    assert 'data-figure="after-corrections">−€3.50' in html
    sub_page = _page_client(manager).get(reverse("reports:session", args=[chain.sub.pk]))
    assert 'data-figure="transferred-to-main">€300.00' in sub_page.content.decode()


def test_the_overview_of_all_locations_reads_each_location_in_the_same_few_queries(
    chain, corrected, django_assert_max_num_queries, make_register, manager
):
    from reports import selectors

    locations = [chain.amsterdam, chain.vienna, chain.tokyo]
    with django_assert_max_num_queries(2):
        by_location = dict(selectors.discrepancy_by_location(locations, DAY, DAY))
    for place in locations:
        alone = selectors.discrepancy_overview(selectors.sessions_in_range([place], DAY, DAY))
        assert by_location[place] == alone, place.name
    assert by_location[chain.amsterdam].corrections_total == Decimal("-4.00")
