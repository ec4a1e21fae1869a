"""The discrepancy charts of the overview (issue 4, item 5): sums per local day, per register
and per staff member who closed, their geometry, and the partial that draws them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from cashdrawer.models import Location
from cashdrawer.scope import Period
from reports import charts as charts_module
from reports.charts import (
    MAX_ROWS,
    discrepancy_by_closer,
    discrepancy_by_day,
    discrepancy_by_register,
    discrepancy_charts,
    nice_ticks,
    time_chart,
)
from reports.selectors import sessions_in_range
from sessions_app import services

NOVEMBER = Period("custom", dt.date(2025, 11, 1), dt.date(2025, 11, 30))
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FLOAT = Decimal("50.00")


@pytest.fixture
def martinique(db) -> Location:
    """A EUR store four hours behind UTC: its late evening is the next UTC day."""
    return Location.objects.create(
        name="Fort-de-France", currency="EUR", timezone="America/Martinique"
    )


@pytest.fixture
def tills(location, make_register):
    return [
        make_register(location, name=f"Till {n}", code=f"till-{n}", count_method="total")
        for n in (1, 2, 3)
    ]


def shift(register, *, opened: dt.datetime, discrepancy: str, by, hours: int = 6):
    """One closed session whose total discrepancy is `discrepancy`: it opens with what the
    previous one retained (start discrepancy 0) and its count is off by `discrepancy`."""
    opening = services.previous_closing_float(register) or FLOAT
    session = services.open_session(register=register, opening_float=opening, by=by, at=opened)
    counted = opening + Decimal(discrepancy)
    return services.close_session(
        session=session,
        counted=counted,
        retained_float=min(counted, FLOAT),
        by=by,
        at=opened + dt.timedelta(hours=hours),
    )


def local(day: int, hour: int, minute: int = 0, tz=AMSTERDAM) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, minute, tzinfo=tz)


def in_november(*locations):
    return sessions_in_range(locations, NOVEMBER.first, NOVEMBER.last)


@pytest.fixture
def november(location, martinique, tills, make_register, manager, cashier):
    """Amsterdam: Till 1 is short twice, Till 2 is over then short, Till 3 is over;
    Maria (manager) closes the short ones, a device closes one; Martinique is short late
    at night. One session stays open."""
    t1, t2, t3 = tills
    shift(t1, opened=local(3, 9), discrepancy="-5.00", by=manager)
    shift(t2, opened=local(3, 10), discrepancy="2.00", by=cashier)
    # 00:30 in Amsterdam on 4 Nov is 23:30 UTC on 3 Nov: it belongs to the 4th.
    shift(t1, opened=local(4, 0, 30), discrepancy="-3.00", by=manager, hours=2)
    shift(t2, opened=local(4, 9), discrepancy="-1.00", by=None)
    shift(t3, opened=local(4, 9), discrepancy="4.00", by=cashier)
    shift(t3, opened=local(5, 9), discrepancy="0.00", by=cashier)
    services.open_session(register=t1, opening_float=FLOAT, by=cashier, at=local(6, 9))
    till = make_register(martinique, name="Caisse", code="caisse", count_method="total")
    # 23:30 in Martinique on 3 Nov is 03:30 UTC on 4 Nov: it belongs to the 3rd.
    shift(
        till,
        opened=local(3, 23, 30, tz=martinique.tzinfo),
        discrepancy="-2.00",
        by=cashier,
        hours=1,
    )
    return in_november(location, martinique)


def by_first_day(buckets):
    return {bucket.first: bucket for bucket in buckets}


def test_per_day_sums_closed_sessions_on_their_local_day(november):
    days = by_first_day(discrepancy_by_day(november, NOVEMBER))

    assert len(days) == 30
    third, fourth, fifth, sixth = (days[dt.date(2025, 11, n)] for n in (3, 4, 5, 6))
    # Till 1 −5, Till 2 +2, and Martinique's 23:30 session −2 (the 4th in UTC).
    assert (third.total, third.closed, third.short) == (Decimal("-5.00"), 3, 2)
    # Till 1's 00:30 session (the 3rd in UTC) −3, Till 2 −1, Till 3 +4.
    assert (fourth.total, fourth.closed, fourth.short) == (Decimal("0.00"), 3, 2)
    assert (fifth.total, fifth.closed, fifth.short) == (Decimal("0.00"), 1, 0)
    # The session still open has no total discrepancy yet: not on the chart.
    assert (sixth.total, sixth.closed) == (Decimal("0.00"), 0)


def test_per_register_sums_worst_first(november, location):
    rows = discrepancy_by_register(november)

    assert [(row.label, row.total, row.closed, row.short) for row in rows] == [
        ("Till 1", Decimal("-8.00"), 2, 2),
        ("Caisse", Decimal("-2.00"), 1, 1),
        ("Till 2", Decimal("1.00"), 2, 1),
        ("Till 3", Decimal("4.00"), 2, 0),
    ]
    # Several locations: each register says where it is.
    assert rows[0].detail == location.name


def test_per_staff_member_who_closed_sums_worst_first_with_unknown(november):
    rows = discrepancy_by_closer(november)

    assert [(row.label, row.total, row.closed, row.short) for row in rows] == [
        ("Maria", Decimal("-8.00"), 2, 2),
        ("Unknown", Decimal("-1.00"), 1, 1),
        ("Carl", Decimal("4.00"), 4, 1),
    ]


def test_each_chart_is_one_query(november, django_assert_num_queries):
    # The locations of the sessions, then one GROUP BY per chart.
    with django_assert_num_queries(4):
        charts = discrepancy_charts(november, period=NOVEMBER, currency="EUR")

    assert (charts.closed, charts.short, charts.total) == (7, 4, Decimal("-5.00"))


def test_short_bars_hang_below_the_zero_line_and_over_bars_stand_on_it(november):
    chart = time_chart(discrepancy_by_day(november, NOVEMBER), "day", "EUR")

    short = next(bar for bar in chart.bars if "3 Nov" in bar.title)
    even = next(bar for bar in chart.bars if "5 Nov" in bar.title)
    assert short.tone == "short" and short.fill == "#c2410c"
    assert short.y == chart.zero_y and short.height > 0
    assert even.tone == "even"  # a small mark on the line, so the day still shows

    till_3 = time_chart(
        discrepancy_by_day(november.filter(register__name="Till 3"), NOVEMBER), "day", "EUR"
    )
    over = till_3.bars[0]
    assert over.tone == "over" and over.fill == "#1d4ed8"
    assert over.y < till_3.zero_y
    assert over.y + over.height == pytest.approx(till_3.zero_y, abs=0.02)
    # Ticks are round amounts, zero among them, drawn top (most) to bottom (least).
    amounts = [tick.amount for tick in chart.ticks]
    assert Decimal(0) in amounts
    assert [tick.y for tick in chart.ticks] == sorted(tick.y for tick in chart.ticks)[::-1]
    assert amounts == sorted(amounts)


def test_the_tooltip_names_the_day_amount_and_sessions(november):
    chart = time_chart(discrepancy_by_day(november, NOVEMBER), "day", "EUR")

    titles = [bar.title for bar in chart.bars]
    assert "Mon 3 Nov: −€5.00, 3 sessions · 2 short" in titles
    assert len(chart.bars) == 3  # days without closed sessions draw nothing


def test_the_partial_draws_three_accessible_charts_with_formatted_amounts(november):
    charts = discrepancy_charts(november, period=NOVEMBER, currency="EUR")

    html = render_to_string("reports/_charts.html", {"charts": charts})

    assert html.count('role="img"') == 3
    assert html.count("<svg") == 3
    assert 'viewBox="0 0 400 210"' in html and 'width="100%"' in html
    assert "Discrepancies" in html
    assert "−€8.00" in html  # Till 1 and Maria, per register and per closer
    assert "2 of 2 short" in html
    assert "Show as table" in html and html.count("<table") == 3
    assert "charts.css" in html


def test_in_german_amounts_follow_the_language_but_svg_numbers_do_not(november):
    with translation.override("de"):
        charts = discrepancy_charts(november, period=NOVEMBER, currency="EUR")
        html = render_to_string("reports/_charts.html", {"charts": charts})

    assert "−8,00\u00a0€" in html
    # Coordinates stay SVG numbers ("12.5"), never "12,5".
    coordinates = re.findall(r' (?:x|y|width|height|x1|x2|y1|y2)="([^"]*)"', html)
    assert coordinates and all("," not in value for value in coordinates)


def test_no_closed_sessions_shows_one_sentence_instead_of_empty_axes(location, tills, cashier):
    services.open_session(register=tills[0], opening_float=FLOAT, by=cashier, at=local(3, 9))

    charts = discrepancy_charts(in_november(location), period=NOVEMBER, currency="EUR")
    html = render_to_string("reports/_charts.html", {"charts": charts})

    assert charts.empty
    assert "No sessions were closed in this range yet." in html
    assert "<svg" not in html


def test_different_currencies_show_a_note_and_sum_nothing(
    november, new_york_location, django_assert_num_queries
):
    with django_assert_num_queries(0):
        charts = discrepancy_charts(
            in_november(new_york_location) | november, period=NOVEMBER, currency=None
        )
    html = render_to_string("reports/_charts.html", {"charts": charts})

    assert charts.mixed_currencies
    assert "keep different currencies" in html
    assert "<svg" not in html


def test_a_long_range_is_drawn_per_month(location, tills, manager):
    shift(tills[0], opened=local(3, 9), discrepancy="-5.00", by=manager)
    shift(tills[0], opened=local(20, 9), discrepancy="-2.50", by=manager)
    shift(
        tills[0], opened=dt.datetime(2026, 3, 2, 9, tzinfo=AMSTERDAM), discrepancy="1", by=manager
    )
    period = Period("custom", dt.date(2025, 6, 1), dt.date(2026, 7, 5))
    sessions = sessions_in_range([location], period.first, period.last)

    charts = discrepancy_charts(sessions, period=period, currency="EUR")

    assert period.days == 400
    assert charts.days.unit == "month"
    assert len(charts.days.labels) <= 7
    buckets = by_first_day(discrepancy_by_day(sessions, period))
    assert len(buckets) == 14
    assert buckets[dt.date(2025, 11, 1)].total == Decimal("-7.50")
    assert buckets[dt.date(2025, 11, 1)].closed == 2
    assert buckets[dt.date(2026, 3, 1)].total == Decimal("1.00")
    assert len(charts.days.bars) == 2
    assert "November 2025: −€7.50, 2 sessions · 2 short" in [b.title for b in charts.days.bars]
    html = render_to_string("reports/_charts.html", {"charts": charts})
    assert "Per month" in html


def test_a_quarter_is_drawn_per_week_from_monday(location, tills, manager):
    shift(tills[0], opened=local(3, 9), discrepancy="-5.00", by=manager)  # a Monday
    shift(tills[0], opened=local(9, 9), discrepancy="-1.00", by=manager)  # its Sunday
    period = Period("custom", dt.date(2025, 10, 1), dt.date(2025, 12, 29))
    sessions = sessions_in_range([location], period.first, period.last)

    buckets = by_first_day(discrepancy_by_day(sessions, period))

    assert charts_module.bucket_unit(period) == "week"
    assert len(buckets) == 14  # Wed 1 Oct .. Sun 5 Oct is the first, clamped to the range
    assert buckets[dt.date(2025, 10, 1)].last == dt.date(2025, 10, 5)
    week = buckets[dt.date(2025, 11, 3)]
    assert (week.last, week.total, week.closed) == (dt.date(2025, 11, 9), Decimal("-6.00"), 2)


def test_a_ranking_shows_the_worst_few_and_the_table_all(location, make_register, manager):
    for n in range(MAX_ROWS + 2):
        till = make_register(location, name=f"Lane {n:02}", code=f"lane-{n}", count_method="total")
        shift(till, opened=local(3, 9), discrepancy=f"-{n}.00", by=manager)

    charts = discrepancy_charts(in_november(location), period=NOVEMBER, currency="EUR")

    assert len(charts.registers.rows) == MAX_ROWS
    assert len(charts.registers.table) == MAX_ROWS + 2
    assert charts.registers.hidden == 2
    assert charts.registers.rows[0].label == "Lane 11"
    assert charts.registers.rows[0].bar_x < charts.registers.zero_x  # short: to the left
    assert "2 more in the table." in render_to_string("reports/_charts.html", {"charts": charts})


@pytest.mark.parametrize(
    ("low", "high", "currency", "expected"),
    [
        ("-10.00", "7.50", "EUR", ["-10", "-5", "0", "5", "10"]),
        ("0.00", "0.00", "EUR", ["-1", "-0.5", "0", "0.5", "1"]),
        ("-0.03", "0.00", "EUR", ["-0.03", "-0.02", "-0.01", "0"]),
        ("-3", "0", "JPY", ["-3", "-2", "-1", "0"]),
    ],
)
def test_ticks_are_round_amounts_in_the_currencys_units(low, high, currency, expected):
    ticks = nice_ticks(Decimal(low), Decimal(high), currency)

    assert ticks == [Decimal(value) for value in expected]
