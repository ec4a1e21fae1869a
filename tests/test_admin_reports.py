"""The admin finds the overviews too (issue 4, item 10): links on the index, filters on the
session list by location, local date range and status, and an "Export CSV" action that
writes the API's sessions.csv."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from cashdrawer.models import Membership
from reports import exports, selectors
from sessions_app import services
from sessions_app.models import TrackingSession
from tests import reports_fixtures
from tests.reports_fixtures import DAY

chain = reports_fixtures.chain
root = reports_fixtures.root

CHANGELIST = "admin:sessions_app_trackingsession_changelist"


@pytest.fixture
def admin_client(client, root):
    client.force_login(root)
    return client


def listed(response) -> set[int]:
    assert response.status_code == 200, response
    return {session.pk for session in response.context["cl"].queryset}


def in_range(*locations, first=DAY, last=DAY) -> set[int]:
    return set(selectors.sessions_in_range(locations, first, last).values_list("pk", flat=True))


# --- the index ------------------------------------------------------------------------------


def test_the_admin_index_links_to_the_overview_of_every_location(admin_client, chain):
    response = admin_client.get(reverse("admin:index"))
    html = response.content.decode()

    assert response.status_code == 200
    assert "Back-office overviews" in html
    assert 'href="/overview/"' in html
    for place in (chain.amsterdam, chain.vienna, chain.tokyo):
        assert f'href="/overview/?location={place.pk}"' in html
        assert place.name in html
    assert 'name="opened_from"' in html  # the custom range form
    assert "app-sessions_app" in html  # the models are still listed


def test_a_staff_manager_sees_links_to_their_own_locations_only(client, chain, manager):
    manager.is_staff = True
    manager.save()
    client.force_login(manager)

    html = client.get(reverse("admin:index")).content.decode()

    assert f'href="/overview/?location={chain.amsterdam.pk}"' in html
    assert f"/?location={chain.vienna.pk}" not in html


def test_staff_who_read_no_reports_see_no_overview_links(client, chain, cashier):
    cashier.is_staff = True
    cashier.save()
    client.force_login(cashier)
    assert "Back-office overviews" not in client.get(reverse("admin:index")).content.decode()


# --- the filters ----------------------------------------------------------------------------


def test_sessions_filter_by_a_custom_range_of_local_days(admin_client, chain):
    url = reverse(CHANGELIST)
    response = admin_client.get(url, {"opened_from": "2026-01-15", "opened_to": "2026-01-15"})

    assert listed(response) == in_range(chain.amsterdam, chain.vienna, chain.tokyo)
    assert chain.r3.pk not in listed(response)
    assert "2026-01-15 – 2026-01-15" in response.content.decode()

    response = admin_client.get(url, {"opened_from": "2026-01-15", "opened_to": "2026-01-16"})
    assert chain.r3.pk in listed(response)


def test_filters_combine_location_range_and_status(admin_client, chain):
    response = admin_client.get(
        reverse(CHANGELIST),
        {
            "opened_from": "2026-01-15",
            "opened_to": "2026-01-16",
            "location__id__exact": chain.amsterdam.pk,
            "status__exact": "open",
        },
    )
    assert listed(response) == {chain.r3.pk}

    response = admin_client.get(
        reverse(CHANGELIST), {"status__exact": "closed", "location__id__exact": chain.vienna.pk}
    )
    assert listed(response) == {chain.vienna_session.pk}


def test_a_bad_custom_range_is_an_invalid_filter_not_an_error(admin_client, chain):
    for params in (
        {"opened_from": "2026-13-01", "opened_to": "2026-01-15"},
        {"opened_from": "2026-01-16", "opened_to": "2026-01-15"},
        {"opened_from": "2020-01-01", "opened_to": "2026-01-15"},
        {"opened_from": "9999-12-31", "opened_to": "9999-12-31"},
        {"opened_from": "0001-01-01", "opened_to": "0001-01-02"},
    ):
        response = admin_client.get(reverse(CHANGELIST), params)
        assert response.status_code == 302
        assert response.url.endswith("?e=1")


def test_preset_ranges_use_each_locations_own_today(admin_client, chain, make_register, manager):
    register = make_register(chain.amsterdam, name="Today", code="today", count_method="total")
    today = services.open_session(register=register, opening_float="10.00", by=manager)
    url = reverse(CHANGELIST)

    for preset in ("today", "last_7_days", "this_week", "this_month"):
        assert today.pk in listed(admin_client.get(url, {"opened": preset})), preset
        assert chain.r1.pk not in listed(admin_client.get(url, {"opened": preset})), preset
    assert today.pk not in listed(admin_client.get(url, {"opened": "yesterday"}))
    assert today.pk not in listed(admin_client.get(url, {"opened": "last_month"}))
    assert len(listed(admin_client.get(url))) == TrackingSession.objects.count()


def test_the_filter_lists_its_presets(admin_client, chain):
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    for label in ("Any date", "Today", "Last 7 days", "This month", "Last month"):
        assert label in html
    assert "?opened=this_month" in html


# --- the CSV action -------------------------------------------------------------------------


def run_action(admin_client, action: str, sessions) -> tuple[object, str]:
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [session.pk for session in sessions]},
    )
    assert response.status_code == 200
    assert response.streaming
    return response, b"".join(response.streaming_content).decode("utf-8")


def test_export_csv_streams_the_selected_sessions_as_the_apis_sessions_csv(admin_client, chain):
    selected = [chain.r1, chain.main, chain.vienna_session, chain.tokyo_session]

    response, text = run_action(admin_client, "export_csv", selected)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="sessions_admin_')
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == exports.SESSION_COLUMNS
    expected = exports.session_rows(
        selectors.session_list(TrackingSession.objects.filter(pk__in=[s.pk for s in selected]))
    )
    assert rows[1:] == [
        [exports.format_cell(value, exports.DIALECTS["excel"]) for value in row] for row in expected
    ]
    assert [int(row[0]) for row in rows[1:]] == sorted(
        (s.pk for s in selected), key=lambda pk: TrackingSession.objects.get(pk=pk).opened_at,
        reverse=True,
    )  # fmt: skip


def test_export_csv_for_dutch_and_german_spreadsheets(admin_client, chain):
    _response, text = run_action(admin_client, "export_csv_excel_eu", [chain.r1])

    assert text.startswith("\ufeffid;location;currency;")
    [row] = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert row["end_discrepancy"] == "-2,00"
    assert row["opened_at"] == "2026-01-15 08:00:00"  # local time, read by Excel as a date


def test_export_csv_of_a_filtered_list_with_select_across(admin_client, chain):
    response = admin_client.post(
        reverse(CHANGELIST) + f"?location__id__exact={chain.vienna.pk}",
        {
            "action": "export_csv",
            "select_across": "1",
            "_selected_action": [chain.vienna_session.pk],
        },
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(row["id"]) for row in rows] == [chain.vienna_session.pk]
    assert rows[0]["total_discrepancy"] == "-5.00"


def test_sessions_stay_read_only_in_the_admin(admin_client, chain):
    # The action list offers the exports, and no bulk delete.
    html = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="export_csv"' in html
    assert 'value="delete_selected"' not in html
    change = reverse("admin:sessions_app_trackingsession_change", args=[chain.r1.pk])
    assert admin_client.post(change, {}).status_code == 403


def test_accountant_staff_without_model_permissions_cannot_export(client, chain, accountant):
    accountant.is_staff = True
    accountant.save()
    client.force_login(accountant)
    response = client.post(
        reverse(CHANGELIST), {"action": "export_csv", "_selected_action": [chain.r1.pk]}
    )
    assert response.status_code == 403
    assert Membership.objects.filter(user=accountant).exists()


def test_the_range_form_of_the_index_reaches_the_filtered_list(admin_client, chain):
    # What the form on the index submits: a plain GET with the two dates.
    first = (DAY - dt.timedelta(days=1)).isoformat()
    response = admin_client.get(reverse(CHANGELIST), {"opened_from": first, "opened_to": first})
    assert listed(response) == in_range(
        chain.amsterdam, chain.vienna, chain.tokyo, first=DAY - dt.timedelta(days=1),
        last=DAY - dt.timedelta(days=1),
    )  # fmt: skip
