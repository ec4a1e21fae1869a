"""DOMAIN.md "Overviews" through reports/selectors.py, on a small day of sessions placed
in time with the services' `at=` arguments. Days are the location's own days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from reports import selectors as reports
from sessions_app import services
from sessions_app.models import TrackingSession

DAY = dt.date(2026, 1, 15)  # winter: Amsterdam is UTC+1, New York UTC-5


def _local(location, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=location.tzinfo)


def _record(register, amount, at, *, kind="sale", method="cash"):
    return services.record_transaction(
        register=register,
        kind=kind,
        payment_method=method,
        amount=amount,
        occurred_at=at,
        received_at=at,
        by=None,
    ).transaction


@dataclass
class Day:
    early: TrackingSession  # R, 00:30 local on DAY: still the day before in UTC
    not_counted: TrackingSession  # R, closed without a count
    late_open: TrackingSession  # R, 23:30 local on DAY, still open
    main: TrackingSession
    sub: TrackingSession
    next_day: TrackingSession  # R2, 00:10 local on DAY + 1: still DAY in UTC
    before: list[TrackingSession]  # main and sub sessions of the day before


@pytest.fixture
def day(location, register, main_register, sub_a, make_register, manager) -> Day:
    def at(hour, minute=0, *, days=0):
        return _local(location, DAY + dt.timedelta(days=days), hour, minute)

    # The day before: a main and its sub, both empty, so the sub's next float is 0.00.
    main_before = services.open_session(
        register=main_register, opening_float="0.00", by=manager, at=at(10, days=-1)
    )
    sub_before = services.open_session(
        register=sub_a, opening_float="0.00", by=manager, at=at(10, 5, days=-1)
    )
    services.close_session(session=sub_before, by=manager, at=at(17, days=-1))
    services.close_session(session=main_before, counts=[], by=manager, at=at(18, days=-1))

    # R: first session (start 0.00), counted 2.00 short.
    early = services.open_session(
        register=register, opening_float="150.00", by=manager, at=at(0, 30)
    )
    _record(register, "50.00", at(1))
    _record(register, "5.00", at(2), kind="refund")
    _record(register, "30.00", at(3), method="card")
    services.close_session(
        session=early, counted="193.00", retained_float="150.00", by=manager, at=at(8)
    )
    # R: opened 5.00 over the previous float, closed without a count.
    not_counted = services.open_session(
        register=register, opening_float="155.00", by=manager, at=at(9)
    )
    _record(register, "20.00", at(12))
    services.close_session(session=not_counted, retained_float="150.00", by=manager, at=at(23))
    late_open = services.open_session(
        register=register, opening_float="150.00", by=manager, at=at(23, 30)
    )

    # Main and sub: the sub opens 20.00 over its 0.00 closing float (+20.00 at the start),
    # transfers 120.00; the main counts 158.00 of 160.00 expected.
    main = services.open_session(
        register=main_register, opening_float="0.00", by=manager, at=at(10)
    )
    sub = services.open_session(register=sub_a, opening_float="20.00", by=manager, at=at(10, 5))
    _record(sub_a, "100.00", at(11))
    _record(main_register, "40.00", at(11, 30))
    services.close_session(session=sub, by=manager, at=at(17))
    services.close_session(
        session=main,
        counts=[("100", 1), ("50", 1), ("5", 1), ("2", 1), ("1", 1)],
        by=manager,
        at=at(18),
    )

    r2 = make_register(location, name="R2", count_method="total")
    next_day = services.open_session(
        register=r2, opening_float="100.00", by=manager, at=at(0, 10, days=1)
    )
    _record(r2, "7.00", at(0, 20, days=1))

    return Day(
        early=early,
        not_counted=not_counted,
        late_open=late_open,
        main=main,
        sub=sub,
        next_day=next_day,
        before=[main_before, sub_before],
    )


def _ids(sessions) -> list[int]:
    return [s.pk for s in sessions]


def test_a_session_belongs_to_the_local_day_it_opened_on(location, day):
    assert day.early.opened_at.astimezone(dt.UTC).date() == DAY - dt.timedelta(days=1)
    assert day.next_day.opened_at.astimezone(dt.UTC).date() == DAY

    in_day = reports.sessions_in_range([location], DAY, DAY)

    assert set(_ids(in_day)) == {
        day.early.pk,
        day.not_counted.pk,
        day.late_open.pk,
        day.main.pk,
        day.sub.pk,
    }
    next_day = reports.sessions_in_range([location], DAY + dt.timedelta(days=1), DAY)
    assert not next_day.exists()  # an empty range, not an error
    assert _ids(
        reports.sessions_in_range([location], DAY + dt.timedelta(days=1), DAY + dt.timedelta(1))
    ) == [day.next_day.pk]
    both_ends_inclusive = reports.sessions_in_range([location], DAY - dt.timedelta(1), DAY)
    assert both_ends_inclusive.count() == 7


def test_a_late_evening_in_new_york_is_that_day_although_utc_is_past_midnight(
    new_york_location, make_register, manager
):
    till = make_register(new_york_location, count_method="total")
    evening = services.open_session(
        register=till,
        opening_float="0.00",
        by=manager,
        at=_local(new_york_location, DAY, 23, 30),
    )
    services.close_session(
        session=evening,
        counted="0.00",
        by=manager,
        at=_local(new_york_location, DAY + dt.timedelta(days=1), 0, 15),
    )
    morning = services.open_session(
        register=till,
        opening_float="0.00",
        by=manager,
        at=_local(new_york_location, DAY + dt.timedelta(days=1), 8),
    )
    assert evening.opened_at.astimezone(dt.UTC).date() == DAY + dt.timedelta(days=1)

    assert _ids(reports.sessions_in_range([new_york_location], DAY, DAY)) == [evening.pk]
    tomorrow = DAY + dt.timedelta(days=1)
    assert _ids(reports.sessions_in_range([new_york_location], tomorrow, tomorrow)) == [morning.pk]


def test_each_location_is_read_in_its_own_time_zone(
    location, new_york_location, make_register, manager, day
):
    till = make_register(new_york_location, count_method="total")
    evening = services.open_session(
        register=till, opening_float="0.00", by=manager, at=_local(new_york_location, DAY, 23, 30)
    )

    both = reports.sessions_in_range([location, new_york_location], DAY, DAY)

    assert evening.pk in _ids(both)
    assert day.early.pk in _ids(both)
    assert day.next_day.pk not in _ids(both)
    assert both.count() == 6


def test_the_discrepancy_overview_of_a_day(location, day):
    overview = reports.discrepancy_overview(reports.sessions_in_range([location], DAY, DAY))

    assert overview.sessions == 5
    # A sub-register's session adds its start figures like any other session's. R's first
    # session has no previous close: its 150.00 is a first opening, on its own line and in
    # neither reported nor counted, so counted - reported = the start discrepancy.
    # Start, over the four with a previous close: previous closing floats, opening floats,
    # and their differences (R +5.00, the sub +20.00).
    assert overview.start_reported == D("300.00")  # 150 + 150 + 0 (main) + 0 (sub)
    assert overview.start_counted == D("325.00")  # 155 + 150 + 0 + 20
    assert overview.start_discrepancy == D("25.00")
    assert overview.start_counted - overview.start_reported == overview.start_discrepancy
    assert overview.first_openings == 1
    assert overview.first_openings_float == D("150.00")
    # End, over closed and counted sessions that are not subs: R's early one and the main.
    assert overview.end_expected == D("355.00")  # 195.00 + 160.00
    assert overview.end_counted == D("351.00")  # 193.00 + 158.00
    assert overview.end_discrepancy == D("-4.00")
    # R's uncounted session; the sub is closed and uncounted but is neither (rule 11), and
    # the open session is not closed yet.
    assert overview.not_counted_sessions == 1
    assert overview.not_counted_expected == D("175.00")  # R2: 155.00 + 20.00
    assert overview.total_discrepancy == D("21.00")
    assert overview.corrections == 0
    assert overview.total_discrepancy_after_corrections == D("21.00")


def test_a_discrepancy_overview_of_an_empty_range_is_all_zeros(location):
    overview = reports.discrepancy_overview(reports.sessions_in_range([location], DAY, DAY))
    assert overview.sessions == overview.not_counted_sessions == 0
    assert overview.start_counted == overview.end_counted == overview.total_discrepancy == D(0)


def test_the_cash_payments_overview_of_a_day(location, day):
    overview = reports.cash_payments_overview(reports.sessions_in_range([location], DAY, DAY))

    # Cash only: R 50.00 and 20.00, the sub 100.00, the main 40.00; the card sale is out,
    # and R2's 7.00 is on the next local day.
    assert overview.gross == D("210.00")
    assert overview.payments_count == 4
    assert overview.refunds == D("5.00")
    assert overview.refunds_count == 1
    assert overview.net == D("205.00")


def test_the_session_list_sorts_by_total_discrepancy_both_ways(location, day):
    sessions = reports.sessions_in_range([location], DAY, DAY)

    ascending = list(reports.session_list(sessions, "total_discrepancy"))
    descending = list(reports.session_list(sessions, "-total_discrepancy"))

    assert [s.total_discrepancy for s in ascending] == [
        D("-2.00"),
        D("-2.00"),
        D("0.00"),
        D("5.00"),
        D("20.00"),
    ]
    # Equal discrepancies follow the opening time, in the same direction as the sort.
    assert _ids(ascending) == [
        day.early.pk,
        day.main.pk,
        day.late_open.pk,
        day.not_counted.pk,
        day.sub.pk,
    ]
    assert _ids(descending) == _ids(ascending)[::-1]


def test_the_session_list_sorts_by_start_and_end(location, day):
    sessions = reports.sessions_in_range([location], DAY, DAY)

    by_start = _ids(reports.session_list(sessions, "opened_at"))
    assert by_start == [
        day.early.pk,
        day.not_counted.pk,
        day.main.pk,
        day.sub.pk,
        day.late_open.pk,
    ]
    assert _ids(reports.session_list(sessions, "-opened_at")) == by_start[::-1]
    assert _ids(reports.session_list(sessions)) == by_start[::-1]  # newest first by default
    by_end = _ids(reports.session_list(sessions, "closed_at"))
    assert by_end[:4] == [day.early.pk, day.sub.pk, day.main.pk, day.not_counted.pk]
    # Still open, so no end yet: it sorts as the latest end, last one way and first the other.
    assert by_end[4] == day.late_open.pk
    assert _ids(reports.session_list(sessions, "-closed_at")) == by_end[::-1]
    # An unknown ordering falls back to the default rather than failing.
    assert _ids(reports.session_list(sessions, "amount; drop table")) == by_start[::-1]
