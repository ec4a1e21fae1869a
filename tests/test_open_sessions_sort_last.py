"""A session still open has no end yet: it sorts as the latest end, the same on the
overview page, in the API's session list and in sessions.csv (issue 11)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from reports import selectors
from sessions_app import services
from sessions_app.models import TrackingSession
from tests.reports_fixtures import read_csv

DAY = dt.date(2026, 11, 2)


def _at(location, hour: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour), tzinfo=location.tzinfo)


@pytest.fixture
def sessions(location, register, make_register):
    """Three sessions of one day: `early` ends at 10, `late` at 16, `still_open` never."""
    other = make_register(location, count_method="total")
    early = services.open_session(
        register=register, opening_float="0", by=None, at=_at(location, 8)
    )
    services.close_session(session=early, counted="0", by=None, at=_at(location, 10))
    # Opened first, so a sort that forgets the empty end puts it first or last by accident.
    still_open = services.open_session(
        register=other, opening_float="0", by=None, at=_at(location, 7)
    )
    late = services.open_session(
        register=register, opening_float="0", by=None, at=_at(location, 11)
    )
    services.close_session(session=late, counted="0", by=None, at=_at(location, 16))
    return early, late, still_open


def _expected(sessions, ordering: str) -> list[int]:
    early, late, still_open = sessions
    ascending = [early.pk, late.pk, still_open.pk]
    return ascending if ordering == "closed_at" else ascending[::-1]


def test_the_orderings_name_where_an_empty_end_goes():
    """PostgreSQL sorts NULL last going up anyway; SQLite (`make run`) sorts it first, so
    the orderings must say it. tests/sqlite/trial.py checks the rows on SQLite itself."""
    sql = {
        ordering: str(selectors.session_list(TrackingSession.objects.all(), ordering).query)
        for ordering in ("closed_at", "-closed_at")
    }
    assert '"closed_at" ASC NULLS LAST' in sql["closed_at"]
    assert '"closed_at" DESC NULLS FIRST' in sql["-closed_at"]


@pytest.mark.parametrize("ordering", ["closed_at", "-closed_at"])
def test_the_overview_page_puts_open_sessions_last_by_end_ascending(
    sessions, location, manager, ordering
):
    client = Client()
    client.force_login(manager)
    params = {"range": "custom", "from": DAY.isoformat(), "to": DAY.isoformat()}
    response = client.get("/overview/", {**params, "location": location.pk, "ordering": ordering})
    assert response.status_code == 200
    assert [row.pk for row in response.context["page"]] == _expected(sessions, ordering)


@pytest.mark.parametrize("ordering", ["closed_at", "-closed_at"])
def test_the_api_session_list_puts_open_sessions_last_by_end_ascending(sessions, manager, ordering):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.get("/api/v1/sessions/", {"ordering": ordering})
    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == _expected(sessions, ordering)


@pytest.mark.parametrize("ordering", ["closed_at", "-closed_at"])
def test_sessions_csv_puts_open_sessions_last_by_end_ascending(
    sessions, location, manager, ordering
):
    api = APIClient()
    api.force_authenticate(manager)
    params = {"from": DAY.isoformat(), "to": DAY.isoformat(), "location": location.pk}
    response = api.get(reverse("report-sessions-csv"), {**params, "ordering": ordering})
    assert response.status_code == 200
    assert [int(row["id"]) for row in read_csv(response)] == _expected(sessions, ordering)
