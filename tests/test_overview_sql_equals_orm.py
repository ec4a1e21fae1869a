"""The overviews' and charts' sums are SQL written once on PostgreSQL and the ORM's
aggregates elsewhere (reports/selectors.py, reports/charts.py). The ORM's stay the
definition: on the same sessions both give the same figures, for every kind of selection
the pages and the API make."""

from __future__ import annotations

import datetime as dt

import pytest

from cashdrawer.scope import Period
from reports import charts, selectors
from sessions_app import services
from sessions_app.models import TrackingSession
from tests import reports_fixtures
from tests.reports_fixtures import DAY

chain = reports_fixtures.chain

WEEK = Period("custom", DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=3))


def _orm(monkeypatch) -> None:
    """What SQLite runs: no statement written once (the charts' too go through
    selectors.fetch_around)."""
    monkeypatch.setattr(selectors, "rows_as_sql", lambda sessions, columns: None)


def _selections(chain) -> dict[str, object]:
    locations = [chain.amsterdam, chain.vienna, chain.tokyo]
    everything = selectors.sessions_in_range(locations, WEEK.first, WEEK.last)
    return {
        "every location": everything,
        "one location": selectors.sessions_in_range([chain.amsterdam], DAY, DAY),
        "one register": everything.filter(register=chain.r1.register),
        "one closer": everything.filter(closed_by__username="bert"),
        "nothing matches": everything.filter(register__name="no such till"),
        "no location": selectors.sessions_in_range([], DAY, DAY),
    }


def _figures(chain, sessions) -> dict[str, object]:
    locations = [chain.amsterdam, chain.vienna, chain.tokyo]
    return {
        "discrepancy": selectors.discrepancy_overview(sessions),
        "payments": selectors.cash_payments_overview(sessions),
        "both": selectors.overviews(sessions),
        "by location": list(
            selectors.overviews_by_location(locations, WEEK.first, WEEK.last, sessions=sessions)
        ),
        "by location, no corrections": list(
            selectors.overviews_by_location(
                locations, WEEK.first, WEEK.last, sessions=sessions, corrections=False
            )
        ),
        "by day": charts.discrepancy_by_day(sessions, WEEK, locations=locations),
        "by week": charts.discrepancy_by_day(sessions, WEEK, "week", locations=locations),
        "by register": charts.discrepancy_by_register(sessions),
        "by closer": charts.discrepancy_by_closer(sessions),
    }


@pytest.fixture
def corrected(chain, manager):
    """Corrections (one of them negative, two on one session) beside the chain's figures."""
    for session, amount in [(chain.r1, "1.25"), (chain.r1, "-0.40"), (chain.main, "-3.00")]:
        services.add_correction(
            session=session,
            amount=amount,
            reason="recount",
            by=manager,
            at=session.closed_at + dt.timedelta(hours=1),
        )
    return chain


@pytest.mark.parametrize(
    "name",
    [
        "every location",
        "one location",
        "one register",
        "one closer",
        "nothing matches",
        "no location",
    ],
)
def test_the_sums_written_once_are_the_orms(corrected, monkeypatch, name):
    written = _figures(corrected, _selections(corrected)[name])
    _orm(monkeypatch)
    aggregated = _figures(corrected, _selections(corrected)[name])
    assert written == aggregated
    if name == "every location":
        # The chain has what each sum reads: corrections, a not-counted and an open session.
        overview = written["discrepancy"]
        assert overview.corrections == 3 and overview.sessions == 7
        assert TrackingSession.objects.filter(status="open").exists()
