"""Charts of discrepancies over a range: per local day, per register, per staff member who
closed, so a manager sees a pattern (one till or one person always short) at a glance.

The database does the sums (one GROUP BY query per chart, over the stored
`total_discrepancy` of closed sessions); this module turns the rows into plain geometry
(bars, ticks, labels in SVG user units) so the templates only place what is computed here.
Amounts stay Decimal; only the pixel positions are floats.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, DateField, Q, QuerySet, Sum, When
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from cashdrawer.models import Location, Register
from cashdrawer.money import ZERO, minor_units, quantize
from cashdrawer.scope import Period
from cashdrawer.templatetags.cashdrawer import date_text, format_money
from reports.selectors import Statement, fetch_around
from sessions_app.models import TrackingSession

# A bar per day while the bars stay wider than a hairline on a laptop's third of a page;
# a bar per week up to half a year; a bar per month beyond (three years: 36 bars).
DAILY_UP_TO_DAYS = 45
WEEKLY_UP_TO_DAYS = 26 * 7
# At most this many rows in a per-register or per-staff chart; the table lists them all.
MAX_ROWS = 10

COLORS = {"short": "#c2410c", "over": "#1d4ed8", "even": "#94a3b8"}

# Geometry of the per-day chart, in SVG user units (the SVG scales to its box by viewBox).
TIME_WIDTH, TIME_HEIGHT = 400, 210
TIME_LEFT, TIME_RIGHT, TIME_TOP, TIME_BOTTOM = 64, 8, 10, 26
TIME_MAX_LABELS = 6
MIN_BAR_HEIGHT = 3.0  # a discrepancy of one cent, or an even day, is still visible

# Geometry of a ranking chart (per register, per staff member).
RANK_WIDTH = 400
RANK_ROW = 40
RANK_BAR_LEFT, RANK_BAR_RIGHT = 142, 270
RANK_LABEL_CHARS = 20


def _tone(amount: Decimal) -> str:
    return "short" if amount < 0 else "over" if amount > 0 else "even"


def _r(value: float) -> float:
    return round(value, 2)


def _sessions_text(closed: int, short: int) -> str:
    text = ngettext("%(count)d session", "%(count)d sessions", closed) % {"count": closed}
    if short:
        text += " · " + ngettext("%(count)d short", "%(count)d short", short) % {"count": short}
    return text


def _short_text(closed: int, short: int) -> str:
    """Compact, for the right column of a ranking: "3 of 27 short" or "27 sessions"."""
    if short:
        return _("%(short)d of %(closed)d short") % {"short": short, "closed": closed}
    return ngettext("%(count)d session", "%(count)d sessions", closed) % {"count": closed}


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# --- scale -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    amount: Decimal
    label: str
    y: float


def nice_ticks(low: Decimal, high: Decimal, currency: str, *, target: int = 4) -> list[Decimal]:
    """Round amounts (1, 2, 2.5 or 5 × a power of ten, never finer than the currency's
    smallest unit) from at or below `low` to at or above `high`, zero included."""
    low, high = min(low, ZERO), max(high, ZERO)
    unit = Decimal(1).scaleb(-minor_units(currency))
    if low == high:
        low, high = -unit * 100, unit * 100  # a flat range: ±1.00 (±100 ¥) around zero
    raw = (high - low) / target
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(
        step
        for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
        if (step := factor * magnitude) >= raw and step % unit == 0
    )
    first = (low / step).to_integral_value(ROUND_FLOOR)
    last = (high / step).to_integral_value(ROUND_CEILING)
    return [step * n for n in range(int(first), int(last) + 1)]


# --- per day ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    """A day, a week or a month of the range, with its closed sessions' figures."""

    first: dt.date
    last: dt.date
    total: Decimal = ZERO
    closed: int = 0
    short: int = 0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    tone: str
    fill: str
    title: str


@dataclass(frozen=True)
class XLabel:
    x: float
    text: str


@dataclass(frozen=True)
class TableRow:
    label: str
    amount: Decimal
    amount_text: str
    tone: str
    closed: int
    short: int
    detail: str = ""


@dataclass(frozen=True)
class TimeChart:
    unit: str  # day, week or month
    unit_label: str
    summary: str
    width: int
    height: int
    plot_left: float
    plot_right: float
    zero_y: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[XLabel]
    rows: list[TableRow]


def bucket_unit(period: Period) -> str:
    if period.days <= DAILY_UP_TO_DAYS:
        return "day"
    if period.days <= WEEKLY_UP_TO_DAYS:
        return "week"
    return "month"


def _bucket_start(day: dt.date, unit: str) -> dt.date:
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _empty_buckets(period: Period, unit: str) -> dict[dt.date, Bucket]:
    """Every day, week or month of the range, clamped to it, in order."""
    buckets: dict[dt.date, Bucket] = {}
    for day in period.dates():
        start = _bucket_start(day, unit)
        if start not in buckets:
            buckets[start] = Bucket(first=day, last=day)
        else:
            buckets[start] = Bucket(first=buckets[start].first, last=day)
    return buckets


def _local_date(locations: Iterable[Location]) -> Case | TruncDate:
    """The local date a session opened on, in its own location's time zone: one CASE
    branch per time zone, so locations in different zones are grouped in one query."""
    whens = [
        When(location_id__in=ids, then=TruncDate("opened_at", tzinfo=ZoneInfo(tz)))
        for tz, ids in sorted(_zones(locations).items())
    ]
    return Case(*whens, output_field=DateField())


def _zones(locations: Iterable[Location]) -> dict[str, list[int]]:
    by_zone: dict[str, list[int]] = {}
    for location in locations:
        by_zone.setdefault(location.timezone, []).append(location.pk)
    return by_zone


def _closed(sessions: QuerySet[TrackingSession]) -> QuerySet[TrackingSession]:
    return sessions.filter(status=TrackingSession.Status.CLOSED).order_by()


def _figures() -> dict:
    return {
        "total": Sum("total_discrepancy"),
        "closed": Count("id"),
        "short": Count("id", filter=Q(total_discrepancy__lt=0)),
    }


# The same GROUP BY queries written once for PostgreSQL, around the closed sessions' rows
# (reports.selectors.rows_as_sql): Django spent longer building each chart's query than
# PostgreSQL running it. `_figures` stays the definition, used on SQLite.
_FIGURES_SQL = "SUM(s.total_discrepancy), COUNT(*), COUNT(*) FILTER (WHERE s.total_discrepancy < 0)"
_CHART_COLUMNS = ("location_id", "register_id", "closed_by_id", "opened_at", "total_discrepancy")


def _closed_rows(sessions: QuerySet[TrackingSession], statement: Statement) -> list[tuple] | None:
    """The rows of `statement` around the closed sessions' rows (PostgreSQL), None on SQLite."""
    return fetch_around(_closed(sessions), _CHART_COLUMNS, statement)


def _written_by_day(
    sessions: QuerySet[TrackingSession], locations: list[Location]
) -> list[dict] | None:
    def statement(connection, rows: str, params: tuple) -> tuple[str, tuple]:
        whens, when_params = [], []
        for tz, ids in sorted(_zones(locations).items()):
            day, day_params = connection.ops.datetime_cast_date_sql("s.opened_at", (), tz)
            whens.append(f"WHEN s.location_id IN ({', '.join(['%s'] * len(ids))}) THEN {day}")
            when_params += [*ids, *day_params]
        sql = (
            f"SELECT CASE {' '.join(whens)} ELSE NULL END AS day, {_FIGURES_SQL}"
            f" FROM ({rows}) s GROUP BY 1 ORDER BY 1"
        )
        return sql, (*when_params, *params)

    found = _closed_rows(sessions, statement)
    if found is None:
        return None
    return [
        {"day": day, "total": total, "closed": closed, "short": short}
        for day, total, closed, short in found
    ]


def discrepancy_by_day(
    sessions: QuerySet[TrackingSession],
    period: Period,
    unit: str | None = None,
    *,
    locations: Iterable[Location] | None = None,
) -> list[Bucket]:
    """Closed sessions' total discrepancy per local day (or week, month) of the range.

    The database sums per local day; days are then added up into weeks or months here,
    exactly, as Decimals.
    """
    unit = unit or bucket_unit(period)
    buckets = _empty_buckets(period, unit)
    if locations is None:  # those of the sessions; a page that knows them saves the query
        locations = Location.objects.filter(pk__in=sessions.order_by().values("location_id"))
    locations = list(locations)
    if not locations:
        return list(buckets.values())
    rows = _written_by_day(sessions, locations)
    if rows is None:
        rows = (
            _closed(sessions)
            .annotate(day=_local_date(locations))
            .values("day")
            .annotate(**_figures())
            .order_by("day")
        )
    for row in rows:
        start = _bucket_start(row["day"], unit)
        if start not in buckets:  # a session outside the range given: not this chart's
            continue
        bucket = buckets[start]
        buckets[start] = Bucket(
            first=bucket.first,
            last=bucket.last,
            total=bucket.total + quantize(row["total"]),
            closed=bucket.closed + row["closed"],
            short=bucket.short + row["short"],
        )
    return list(buckets.values())


def _bucket_label(bucket: Bucket, unit: str) -> str:
    day_format = pgettext("chart day, e.g. Mon 3 Nov", "D j M")
    if unit == "day":
        return date_text(bucket.first, day_format)
    if unit == "week":
        short_format = pgettext("chart date, e.g. 3 Nov", "j M")
        return _("%(first)s – %(last)s") % {
            "first": date_text(bucket.first, short_format),
            "last": date_text(bucket.last, short_format),
        }
    return date_text(bucket.first, "YEAR_MONTH_FORMAT")


def _axis_labels(buckets: list[Bucket], unit: str, slot: float) -> list[XLabel]:
    # A week has room for every day's name; longer ranges label every few bars.
    step = 1 if len(buckets) <= 7 else math.ceil(len(buckets) / TIME_MAX_LABELS)
    if unit == "day" and len(buckets) <= 7:
        label_format = pgettext("chart axis, a day of a week, e.g. Mon 3", "D j")
    elif unit == "month":
        label_format = pgettext("chart axis, a month, e.g. Nov", "M")
    else:
        label_format = pgettext("chart date, e.g. 3 Nov", "j M")
    labels = []
    previous_year = None
    for index in range(0, len(buckets), step):
        bucket = buckets[index]
        text = date_text(bucket.first, label_format)
        if unit == "month" and bucket.first.year != previous_year:
            text = date_text(bucket.first, pgettext("chart axis, e.g. Jan 2026", "M Y"))
        previous_year = bucket.first.year
        labels.append(XLabel(x=_r(TIME_LEFT + slot * (index + 0.5)), text=text))
    return labels


def time_chart(buckets: list[Bucket], unit: str, currency: str) -> TimeChart:
    plot_width = TIME_WIDTH - TIME_LEFT - TIME_RIGHT
    plot_height = TIME_HEIGHT - TIME_TOP - TIME_BOTTOM
    used = [bucket for bucket in buckets if bucket.closed]
    amounts = [bucket.total for bucket in used] or [ZERO]
    tick_amounts = nice_ticks(min(amounts), max(amounts), currency)
    low, high = tick_amounts[0], tick_amounts[-1]

    def y_of(amount: Decimal) -> float:
        return TIME_TOP + float((high - amount) / (high - low)) * plot_height

    zero_y = y_of(ZERO)
    slot = plot_width / max(len(buckets), 1)
    bar_width = min(slot * 0.72, 28.0)
    bars = []
    for index, bucket in enumerate(buckets):
        if not bucket.closed:
            continue
        tone = _tone(bucket.total)
        height = max(abs(y_of(bucket.total) - zero_y), MIN_BAR_HEIGHT)
        if tone == "short":
            top = zero_y
        elif tone == "over":
            top = zero_y - height
        else:  # even: a small mark centred on the zero line, so the day still shows
            top = zero_y - height / 2
        title = _("%(when)s: %(amount)s, %(sessions)s") % {
            "when": _bucket_label(bucket, unit),
            "amount": format_money(bucket.total, currency, sign=True),
            "sessions": _sessions_text(bucket.closed, bucket.short),
        }
        bars.append(
            Bar(
                x=_r(TIME_LEFT + slot * index + (slot - bar_width) / 2),
                y=_r(top),
                width=_r(bar_width),
                height=_r(height),
                tone=tone,
                fill=COLORS[tone],
                title=title,
            )
        )
    ticks = [
        Tick(amount=amount, label=format_money(amount, currency), y=_r(y_of(amount)))
        for amount in tick_amounts
    ]
    rows = [
        TableRow(
            label=_bucket_label(bucket, unit),
            amount=bucket.total,
            amount_text=format_money(bucket.total, currency, sign=True),
            tone=_tone(bucket.total),
            closed=bucket.closed,
            short=bucket.short,
        )
        for bucket in used
    ]
    unit_labels = {"day": _("per day"), "week": _("per week"), "month": _("per month")}
    worst = min(used, key=lambda bucket: bucket.total, default=None)
    if worst is not None and worst.total < 0:
        summary = _(
            "Bar chart of the discrepancy %(unit)s over %(count)d periods; "
            "the largest shortage was %(amount)s on %(when)s."
        ) % {
            "unit": unit_labels[unit],
            "count": len(buckets),
            "amount": format_money(worst.total, currency),
            "when": _bucket_label(worst, unit),
        }
    else:
        summary = _(
            "Bar chart of the discrepancy %(unit)s over %(count)d periods; no period was short."
        ) % {"unit": unit_labels[unit], "count": len(buckets)}
    return TimeChart(
        unit=unit,
        unit_label=unit_labels[unit],
        summary=summary,
        width=TIME_WIDTH,
        height=TIME_HEIGHT,
        plot_left=TIME_LEFT,
        plot_right=TIME_WIDTH - TIME_RIGHT,
        zero_y=_r(zero_y),
        bars=bars,
        ticks=ticks,
        labels=_axis_labels(buckets, unit, slot),
        rows=rows,
    )


# --- per register, per staff member ----------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    """One register or staff member with their closed sessions' figures."""

    key: object
    label: str
    detail: str  # e.g. the location, when several are shown
    total: Decimal
    closed: int
    short: int


@dataclass(frozen=True)
class RankRow:
    label: str
    full_label: str
    detail: str  # under the label: the location, when several are shown
    sessions_text: str  # under the amount
    short: int
    amount_text: str
    tone: str
    fill: str
    y: float
    bar_x: float
    bar_width: float
    title: str


@dataclass(frozen=True)
class RankChart:
    summary: str
    width: int
    height: int
    zero_x: float
    bar_height: float
    rows: list[RankRow]
    table: list[TableRow]
    hidden: int  # rows in the table but not in the chart


def _written_ranking(
    sessions: QuerySet[TrackingSession],
    columns: str,
    joins: str,
    order: str,
    keys: tuple[str, ...],
) -> list[dict] | None:
    """A ranking's GROUP BY `columns` (named `keys`) with the figures, written once:
    what `.values(*keys).annotate(**_figures()).order_by(...)` asks, None on SQLite."""
    grouped = ", ".join(str(number) for number in range(1, len(keys) + 1))
    found = _closed_rows(
        sessions,
        lambda connection, rows, params: (
            f"SELECT {columns}, {_FIGURES_SQL} FROM ({rows}) s {joins} GROUP BY {grouped} {order}",
            params,
        ),
    )
    if found is None:
        return None
    names = (*keys, "total", "closed", "short")
    return [dict(zip(names, row, strict=True)) for row in found]


def discrepancy_by_register(sessions: QuerySet[TrackingSession]) -> list[Ranked]:
    """Per register: summed total discrepancy of its closed sessions, worst first."""
    rows = _written_ranking(
        sessions,
        "s.register_id, r.name, l.name",
        f"JOIN {Register._meta.db_table} r ON r.id = s.register_id"
        f" JOIN {Location._meta.db_table} l ON l.id = s.location_id",
        "ORDER BY 4, 2, 1",
        ("register_id", "register__name", "location__name"),
    )
    if rows is None:
        rows = list(
            _closed(sessions)
            .values("register_id", "register__name", "location__name")
            .annotate(**_figures())
            .order_by("total", "register__name", "register_id")
        )
    several = len({row["location__name"] for row in rows}) > 1
    return [
        Ranked(
            key=row["register_id"],
            label=row["register__name"],
            detail=row["location__name"] if several else "",
            total=quantize(row["total"]),
            closed=row["closed"],
            short=row["short"],
        )
        for row in rows
    ]


def discrepancy_by_closer(sessions: QuerySet[TrackingSession]) -> list[Ranked]:
    """Per staff member who closed (nobody, e.g. a device: "unknown"), worst first."""
    keys = ("closed_by_id", "closed_by__first_name", "closed_by__last_name", "closed_by__username")
    rows = _written_ranking(
        sessions,
        "s.closed_by_id, u.first_name, u.last_name, u.username",
        f"LEFT JOIN {get_user_model()._meta.db_table} u ON u.id = s.closed_by_id",
        "ORDER BY 5, 4, 1",
        keys,
    )
    if rows is None:
        rows = (
            _closed(sessions)
            .values(*keys)
            .annotate(**_figures())
            .order_by("total", "closed_by__username", "closed_by_id")
        )
    ranked = []
    for row in rows:
        if row["closed_by_id"] is None:
            label = _("Unknown")
        else:
            name = f"{row['closed_by__first_name']} {row['closed_by__last_name']}".strip()
            label = name or row["closed_by__username"]
        ranked.append(
            Ranked(
                key=row["closed_by_id"],
                label=label,
                detail="",
                total=quantize(row["total"]),
                closed=row["closed"],
                short=row["short"],
            )
        )
    return ranked


def rank_chart(ranked: list[Ranked], currency: str, *, what: str) -> RankChart:
    """Horizontal bars from a zero line: short to the left, over to the right."""
    shown = ranked[:MAX_ROWS]
    amounts = [item.total for item in shown] or [ZERO]
    low, high = min(min(amounts), ZERO), max(max(amounts), ZERO)
    if low == high:
        low, high = Decimal(-1), Decimal(1)
    span = RANK_BAR_RIGHT - RANK_BAR_LEFT

    def x_of(amount: Decimal) -> float:
        return RANK_BAR_LEFT + float((amount - low) / (high - low)) * span

    zero_x = x_of(ZERO)
    rows = []
    for index, item in enumerate(shown):
        tone = _tone(item.total)
        end = x_of(item.total)
        width = max(abs(end - zero_x), MIN_BAR_HEIGHT)
        if tone == "short":
            bar_x = zero_x - width
        elif tone == "over":
            bar_x = zero_x
        else:
            bar_x = zero_x - width / 2
        amount_text = format_money(item.total, currency, sign=True)
        name = f"{item.label} ({item.detail})" if item.detail else item.label
        rows.append(
            RankRow(
                label=_truncate(item.label, RANK_LABEL_CHARS),
                full_label=name,
                detail=_truncate(item.detail, RANK_LABEL_CHARS + 4),
                sessions_text=_short_text(item.closed, item.short),
                short=item.short,
                amount_text=amount_text,
                tone=tone,
                fill=COLORS[tone],
                y=index * RANK_ROW,
                bar_x=_r(bar_x),
                bar_width=_r(width),
                title=_("%(name)s: %(amount)s, %(sessions)s")
                % {
                    "name": name,
                    "amount": amount_text,
                    "sessions": _sessions_text(item.closed, item.short),
                },
            )
        )
    table = [
        TableRow(
            label=item.label,
            detail=item.detail,
            amount=item.total,
            amount_text=format_money(item.total, currency, sign=True),
            tone=_tone(item.total),
            closed=item.closed,
            short=item.short,
        )
        for item in ranked
    ]
    worst = ranked[0] if ranked and ranked[0].total < 0 else None
    if worst is not None:
        summary = _("Bar chart of the discrepancy %(what)s; the most short: %(name)s, %(amount)s.")
        summary %= {
            "what": what,
            "name": worst.label,
            "amount": format_money(worst.total, currency),
        }
    else:
        summary = _("Bar chart of the discrepancy %(what)s; nobody was short.") % {"what": what}
    return RankChart(
        summary=summary,
        width=RANK_WIDTH,
        height=max(len(rows), 1) * RANK_ROW,
        zero_x=_r(zero_x),
        bar_height=14,
        rows=rows,
        table=table,
        hidden=len(ranked) - len(shown),
    )


# --- the three together ----------------------------------------------------------------


@dataclass(frozen=True)
class Charts:
    currency: str | None
    period: Period
    closed: int = 0
    short: int = 0
    total: Decimal = ZERO
    days: TimeChart | None = None
    registers: RankChart | None = None
    staff: RankChart | None = None
    colors: dict[str, str] = field(default_factory=lambda: dict(COLORS))

    @property
    def mixed_currencies(self) -> bool:
        return self.currency is None

    @property
    def empty(self) -> bool:
        return self.closed == 0

    @property
    def tone(self) -> str:
        return _tone(self.total)

    @property
    def total_text(self) -> str:
        return format_money(self.total, self.currency, sign=True) if self.currency else ""

    @property
    def sessions_text(self) -> str:
        text = ngettext(
            "over %(count)d closed session", "over %(count)d closed sessions", self.closed
        ) % {"count": self.closed}
        if self.short:
            text += ", " + ngettext(
                "%(count)d of them short", "%(count)d of them short", self.short
            ) % {"count": self.short}
        return text


def discrepancy_charts(
    sessions: QuerySet[TrackingSession],
    *,
    period: Period,
    currency: str | None,
    locations: Iterable[Location] | None = None,
) -> Charts:
    """The three discrepancy charts of the overview, for the closed sessions in `sessions`.

    With `currency` None (locations keeping different currencies) nothing is summed: the
    partial shows a note instead.
    """
    if currency is None:
        return Charts(currency=None, period=period)
    unit = bucket_unit(period)
    buckets = discrepancy_by_day(sessions, period, unit, locations=locations)
    closed = sum(bucket.closed for bucket in buckets)
    if not closed:
        return Charts(currency=currency, period=period)
    return Charts(
        currency=currency,
        period=period,
        closed=closed,
        short=sum(bucket.short for bucket in buckets),
        total=sum((bucket.total for bucket in buckets), ZERO),
        days=time_chart(buckets, unit, currency),
        registers=rank_chart(discrepancy_by_register(sessions), currency, what=_("per register")),
        staff=rank_chart(
            discrepancy_by_closer(sessions), currency, what=_("per staff member who closed")
        ),
    )
