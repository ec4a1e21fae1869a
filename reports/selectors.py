"""Overview queries per location and local date range (DOMAIN.md "Overviews").

The back-office pages, the API and the CSV exports all read these, so their totals
cannot disagree. They read the figures stored on each session, one row per session.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Exists, F, OrderBy, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from cashdrawer.actors import Actor, actor
from cashdrawer.models import ApiToken, Location, Register
from cashdrawer.money import ZERO, quantize
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import with_corrections


def _money_sum(column: str, filter: Q | None = None) -> Coalesce:
    return Coalesce(Sum(column, filter=filter), ZERO)


# What every figure of the overviews is over no session at all: a count 0, a sum of money
# 0.00 (what the ORM's aggregates and the SQL below answer for an empty selection).
_ZEROS = {
    "sessions": 0,
    "not_counted_sessions": 0,
    "start_reported": ZERO,
    "start_counted": ZERO,
    "start_discrepancy": ZERO,
    "first_openings": 0,
    "first_openings_float": ZERO,
    "end_expected": ZERO,
    "end_counted": ZERO,
    "end_discrepancy": ZERO,
    "not_counted_expected": ZERO,
    "corrections": 0,
    "corrections_total": ZERO,
    "gross": ZERO,
    "refunds": ZERO,
    "payments_count": 0,
    "refunds_count": 0,
}


def _exact(figures: dict) -> dict:
    """Money figures with their two decimals on every database: SQLite sums binary floats
    and answers 18282.3800000000 for 18282.38 (equal, but not what a report prints)."""
    return {
        name: quantize(value) if isinstance(value, Decimal) else value
        for name, value in figures.items()
    }


def local_day_bounds(
    location: Location, first: dt.date, last: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [start, end) of the local days first..last of the location."""
    tz = location.tzinfo
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def sessions_in_range(
    locations: Iterable[Location], first: dt.date, last: dt.date
) -> QuerySet[TrackingSession]:
    """Sessions opened on one of the local days first..last of their own location.

    Locations in one time zone share the bounds, so they share one condition: a chain of
    fifty stores in one zone is one `location IN (...)` and one range, not fifty ORed
    conditions that PostgreSQL would test on every row."""
    by_zone: dict[str, list[Location]] = {}
    for location in locations:
        by_zone.setdefault(location.timezone, []).append(location)
    condition = Q(pk__in=[])
    for same_zone in by_zone.values():
        start, end = local_day_bounds(same_zone[0], first, last)
        where = Q(opened_at__gte=start, opened_at__lt=end)
        if len(same_zone) == 1:
            where &= Q(location=same_zone[0])
        else:
            where &= Q(location__in=[location.pk for location in same_zone])
        condition |= where
    return TrackingSession.objects.filter(condition)


@dataclass(frozen=True)
class DiscrepancyOverview:
    """The discrepancy overview of a range (DOMAIN.md section 7), in blocks that each add
    up on their own: start counted − reported = start discrepancy, end counted − expected =
    end discrepancy. What has nothing to compare with has a line of its own: the first
    openings (no previous close) at the start, the sessions closed without a count at
    the end."""

    sessions: int
    not_counted_sessions: int
    start_reported: Decimal
    start_counted: Decimal
    start_discrepancy: Decimal
    end_expected: Decimal
    end_counted: Decimal
    end_discrepancy: Decimal
    first_openings: int = 0
    first_openings_float: Decimal = ZERO
    not_counted_expected: Decimal = ZERO
    corrections: int = 0
    corrections_total: Decimal = ZERO

    @property
    def total_discrepancy(self) -> Decimal:
        return self.start_discrepancy + self.end_discrepancy

    @property
    def total_discrepancy_after_corrections(self) -> Decimal:
        return self.total_discrepancy + self.corrections_total


def _discrepancy_aggregates() -> dict[str, Any]:
    """The figures of the overview as aggregates over sessions, one row of a query.

    - Start: a session with a previous close compares its opening float with it; a first
      opening (previous_closing_float IS NULL) has nothing to compare with, so its float
      is on its own line, not in counted.
    - End: the closed sessions of standalone and main registers. Those counted are
      compared (counted − expected); those not counted have only an expected cash, on
      their own line. A sub session is in neither: its cash is counted at its main
      session (rule 11). An open session has no end yet.
    """
    compared = Q(previous_closing_float__isnull=False)
    first = Q(previous_closing_float__isnull=True)
    closed_own = Q(status=TrackingSession.Status.CLOSED) & Q(main_session__isnull=True)
    counted = closed_own & Q(counted_cash__isnull=False)
    not_counted = closed_own & Q(counted_cash__isnull=True)
    return {
        "sessions": Count("id"),
        "not_counted_sessions": Count("id", filter=not_counted),
        "start_reported": _money_sum("previous_closing_float", filter=compared),
        "start_counted": _money_sum("opening_float", filter=compared),
        "start_discrepancy": _money_sum("start_discrepancy", filter=compared),
        "first_openings": Count("id", filter=first),
        "first_openings_float": _money_sum("opening_float", filter=first),
        "end_expected": _money_sum("expected_cash", filter=counted),
        "end_counted": _money_sum("counted_cash", filter=counted),
        "end_discrepancy": _money_sum("end_discrepancy", filter=counted),
        "not_counted_expected": _money_sum("expected_cash", filter=not_counted),
    }


def _correction_aggregates() -> dict[str, Any]:
    return {"corrections": Count("id"), "corrections_total": _money_sum("amount")}


# --- the overviews' sums as SQL written once (PostgreSQL) ---------------------------------
#
# Django took about 10 ms to build the eleven filtered sums of an overview for 1 ms of
# PostgreSQL's time (the report API of one store's month). The same sums are written here
# once, over the rows of the given sessions: the sessions' own query (sessions_in_range,
# narrowed by the filters) is compiled as a plain SELECT of the columns the sums read, and
# PostgreSQL folds it into the statement as if it were written inline. The aggregates
# above stay the definition: SQLite (`make run`) still uses them, and the tests hold both
# to the same figures.

_COMPARED = "s.previous_closing_float IS NOT NULL"
_FIRST = "s.previous_closing_float IS NULL"
_CLOSED_OWN = "s.status = 'closed' AND s.main_session_id IS NULL"
_COUNTED = f"{_CLOSED_OWN} AND s.counted_cash IS NOT NULL"
_NOT_COUNTED = f"{_CLOSED_OWN} AND s.counted_cash IS NULL"
_DISCREPANCY_SQL = (
    ("sessions", "COUNT(*)"),
    ("not_counted_sessions", f"COUNT(*) FILTER (WHERE {_NOT_COUNTED})"),
    ("start_reported", f"COALESCE(SUM(s.previous_closing_float) FILTER (WHERE {_COMPARED}), 0.00)"),
    ("start_counted", f"COALESCE(SUM(s.opening_float) FILTER (WHERE {_COMPARED}), 0.00)"),
    ("start_discrepancy", f"COALESCE(SUM(s.start_discrepancy) FILTER (WHERE {_COMPARED}), 0.00)"),
    ("first_openings", f"COUNT(*) FILTER (WHERE {_FIRST})"),
    ("first_openings_float", f"COALESCE(SUM(s.opening_float) FILTER (WHERE {_FIRST}), 0.00)"),
    ("end_expected", f"COALESCE(SUM(s.expected_cash) FILTER (WHERE {_COUNTED}), 0.00)"),
    ("end_counted", f"COALESCE(SUM(s.counted_cash) FILTER (WHERE {_COUNTED}), 0.00)"),
    ("end_discrepancy", f"COALESCE(SUM(s.end_discrepancy) FILTER (WHERE {_COUNTED}), 0.00)"),
    ("not_counted_expected", f"COALESCE(SUM(s.expected_cash) FILTER (WHERE {_NOT_COUNTED}), 0.00)"),
)
_PAYMENTS_SQL = (
    ("gross", "COALESCE(SUM(s.cash_sales), 0.00)"),
    ("refunds", "COALESCE(SUM(s.cash_refunds), 0.00)"),
    ("payments_count", "COALESCE(SUM(s.cash_sales_count), 0)"),
    ("refunds_count", "COALESCE(SUM(s.cash_refunds_count), 0)"),
)
_CORRECTIONS_SQL = (
    ("corrections", "COUNT(*)"),
    ("corrections_total", "COALESCE(SUM(c.amount), 0.00)"),
)
# What the sums read of a session, and its id and location for the corrections and rows.
_SUMMED_COLUMNS = (
    "id",
    "location_id",
    "status",
    "main_session_id",
    "previous_closing_float",
    "opening_float",
    "start_discrepancy",
    "expected_cash",
    "counted_cash",
    "end_discrepancy",
    "cash_sales",
    "cash_refunds",
    "cash_sales_count",
    "cash_refunds_count",
)


def _select(figures: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(sql for _, sql in figures)


def _corrections_of(rows: str) -> str:
    """FROM the corrections made to the sessions of `rows` (rows_as_sql), each beside its
    session's row as `s`."""
    return f"FROM {Correction._meta.db_table} c JOIN ({rows}) s ON s.id = c.session_id"


def rows_as_sql(
    sessions: QuerySet[TrackingSession], columns: Iterable[str]
) -> tuple[str, str, tuple] | None:
    """(database alias, a SELECT of `columns` of `sessions` as SQL, its parameters), for a
    statement written once around it; None where the ORM's own aggregates are used
    (SQLite). An empty selection Django knows of (no location) raises EmptyResultSet."""
    using = sessions.db
    if connections[using].vendor != "postgresql":
        return None
    rows = sessions.order_by().values_list(*columns).query
    sql, params = rows.get_compiler(using=using).as_sql()
    return using, sql, tuple(params)


def fetch_all(using: str, sql: str, params: tuple) -> list[tuple]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


Statement = Callable[[BaseDatabaseWrapper, str, tuple], tuple[str, tuple]]


def fetch_around(
    sessions: QuerySet[TrackingSession], columns: Iterable[str], statement: Statement
) -> list[tuple] | None:
    """The rows of a statement written once around the SELECT of `columns` of `sessions`
    (rows_as_sql): `statement(connection, rows, params)` gives its SQL and parameters.
    [] for a selection Django knows is empty without asking (no location); None where the
    ORM's own aggregates are used (SQLite)."""
    try:
        written = rows_as_sql(sessions, columns)
    except EmptyResultSet:
        return []
    if written is None:
        return None
    using, rows, params = written
    sql, params = statement(connections[using], rows, params)
    return fetch_all(using, sql, params)


def _written_overviews(
    sessions: QuerySet[TrackingSession],
    figures: tuple[tuple[str, str], ...],
    *,
    corrections: bool = True,
) -> dict | None:
    """The sums `figures` over `sessions` and (with `corrections`) the corrections made to
    them, in one statement; None on SQLite."""

    def statement(connection, rows: str, params: tuple) -> tuple[str, tuple]:
        sums = f"SELECT {_select(figures)} FROM ({rows}) s"
        if not corrections:
            return sums, params
        sql = (
            f"SELECT f.*, c.* FROM ({sums}) f"
            f" CROSS JOIN (SELECT {_select(_CORRECTIONS_SQL)} {_corrections_of(rows)}) c"
        )
        return sql, params + params

    names = [name for name, _ in figures + (_CORRECTIONS_SQL if corrections else ())]
    found = fetch_around(sessions, _SUMMED_COLUMNS, statement)
    if found is None:
        return None
    (row,) = found or [tuple(_ZEROS[name] for name in names)]
    return dict(zip(names, row, strict=True))


def discrepancy_overview(sessions: QuerySet[TrackingSession]) -> DiscrepancyOverview:
    """The overview of `sessions`, with the corrections made to them (whenever made): one
    query on PostgreSQL, two elsewhere, whatever the number of sessions."""
    written = _written_overviews(sessions, _DISCREPANCY_SQL)
    if written is not None:
        return DiscrepancyOverview(**_exact(written))
    figures = sessions.order_by().aggregate(**_discrepancy_aggregates())
    corrections = Correction.objects.filter(session__in=sessions.order_by().values("pk")).aggregate(
        **_correction_aggregates()
    )
    return DiscrepancyOverview(**_exact({**figures, **corrections}))


@dataclass(frozen=True)
class CashPaymentsOverview:
    gross: Decimal
    refunds: Decimal
    payments_count: int
    refunds_count: int

    @property
    def net(self) -> Decimal:
        return self.gross - self.refunds


def _payments_aggregates() -> dict[str, Any]:
    return {
        "gross": _money_sum("cash_sales"),
        "refunds": _money_sum("cash_refunds"),
        "payments_count": Coalesce(Sum("cash_sales_count"), 0),
        "refunds_count": Coalesce(Sum("cash_refunds_count"), 0),
    }


def cash_payments_overview(sessions: QuerySet[TrackingSession]) -> CashPaymentsOverview:
    figures = _written_overviews(sessions, _PAYMENTS_SQL, corrections=False)
    if figures is None:
        figures = sessions.order_by().aggregate(**_payments_aggregates())
    return CashPaymentsOverview(**_exact(figures))


_DISCREPANCY_FIELDS = frozenset(DiscrepancyOverview.__dataclass_fields__)
_PAYMENTS_FIELDS = frozenset(CashPaymentsOverview.__dataclass_fields__)


def _split(figures: dict) -> tuple[DiscrepancyOverview, CashPaymentsOverview]:
    figures = _exact(figures)
    return (
        DiscrepancyOverview(**{k: v for k, v in figures.items() if k in _DISCREPANCY_FIELDS}),
        CashPaymentsOverview(**{k: v for k, v in figures.items() if k in _PAYMENTS_FIELDS}),
    )


def overviews(
    sessions: QuerySet[TrackingSession],
) -> tuple[DiscrepancyOverview, CashPaymentsOverview]:
    """Both overviews of `sessions` in one query on PostgreSQL, two elsewhere (the
    sessions' figures in one pass, the corrections in another): the overview page read
    them in four."""
    written = _written_overviews(sessions, _DISCREPANCY_SQL + _PAYMENTS_SQL)
    if written is not None:
        return _split(written)
    figures = sessions.order_by().aggregate(**_discrepancy_aggregates(), **_payments_aggregates())
    corrections = Correction.objects.filter(session__in=sessions.order_by().values("pk")).aggregate(
        **_correction_aggregates()
    )
    return _split({**figures, **corrections})


def summed(
    rows: Iterable[tuple[DiscrepancyOverview, CashPaymentsOverview]],
) -> tuple[DiscrepancyOverview, CashPaymentsOverview]:
    """The overviews of several locations added up: every figure is a count or a sum over
    sessions, so this is what one query over all their sessions answers, without it. Only
    meaningful for locations of one currency."""
    totals: dict[str, Any] = {}
    for discrepancy, payments in rows:
        for part in (discrepancy, payments):
            for name in type(part).__dataclass_fields__:
                totals[name] = totals.get(name, 0) + getattr(part, name)
    if not totals:
        return _split(_ZEROS)
    return _split(totals)


def _up(name: str) -> OrderBy:
    return F(name).asc(nulls_last=True)


def _down(name: str) -> OrderBy:
    return F(name).desc(nulls_first=True)


# An empty value (an open session's closed_at and total_discrepancy) counts as the latest,
# on every database: last going up, first going down. That is PostgreSQL's own rule, but
# SQLite (`make run`) puts NULL first going up, so it is spelt out; the API's
# StableOrderingFilter follows the same rule.
SESSION_ORDERINGS = {
    "opened_at": (_up("opened_at"), "id"),
    "-opened_at": (_down("opened_at"), "-id"),
    "closed_at": (_up("closed_at"), "id"),
    "-closed_at": (_down("closed_at"), "-id"),
    "total_discrepancy": (_up("total_discrepancy"), "opened_at", "id"),
    "-total_discrepancy": (_down("total_discrepancy"), "-opened_at", "-id"),
}


def session_list(
    sessions: QuerySet[TrackingSession], ordering: str = "-opened_at"
) -> QuerySet[TrackingSession]:
    """One row per session, in one of the orderings the overview offers."""
    order = SESSION_ORDERINGS.get(ordering, SESSION_ORDERINGS["-opened_at"])
    return with_corrections(sessions.select_related("register", "location")).order_by(*order)


def session_list_keys(
    sessions: QuerySet[TrackingSession], ordering: str = "-opened_at"
) -> QuerySet:
    """The ids of `sessions` in one of the list's orderings: what a page of the overview's
    list is cut from (one table, read along its order index) before its rows are read."""
    order = SESSION_ORDERINGS.get(ordering, SESSION_ORDERINGS["-opened_at"])
    return sessions.order_by(*order).values_list("pk", flat=True)


def session_list_rows(keys: QuerySet, ordering: str = "-opened_at") -> list[TrackingSession]:
    """The sessions of `keys` (a page of session_list_keys) with what a row of the list
    shows: register, location, who opened and closed, corrections, late sales.

    Two queries. With the device tokens and the main session joined as well, the query
    joined nine tables and PostgreSQL spent 40 to 75 ms planning it (and 1 ms running
    it); five tables plan in about 1 ms, and the page's few device tokens are read apart.
    Only the page's rows are joined and summed, not the rows an OFFSET skips."""
    order = SESSION_ORDERINGS.get(ordering, SESSION_ORDERINGS["-opened_at"])
    page = TrackingSession.objects.filter(pk__in=keys)
    rows = list(
        with_corrections(page.select_related("register", "location", "opened_by", "closed_by"))
        .annotate(has_late=Exists(Transaction.objects.filter(session=OuterRef("pk"), late=True)))
        .order_by(*order)
    )
    # A subquery, not a list of ids: one query whether or not a device acted on the page.
    used = Q(pk__in=page.values("opened_by_device")) | Q(pk__in=page.values("closed_by_device"))
    devices = {token.pk: token for token in ApiToken.objects.filter(used)}
    for row in rows:
        row.opened_by_device = devices.get(row.opened_by_device_id)
        row.closed_by_device = devices.get(row.closed_by_device_id)
    return rows


def corrections_of(sessions: QuerySet[TrackingSession]) -> QuerySet[Correction]:
    """The corrections made to `sessions` (whenever made), in the order they were made:
    the ones the discrepancy overview of the same range sums."""
    return (
        Correction.objects.filter(session__in=sessions.order_by().values("pk"))
        .select_related("session__register", "session__location", "created_by")
        .order_by("created_at", "id")
    )


# --- per location, for "all locations" views and their CSV files ------------------------


def overviews_by_location(
    locations: Iterable[Location],
    first: dt.date,
    last: dt.date,
    *,
    sessions: QuerySet[TrackingSession] | None = None,
    corrections: bool = True,
) -> Iterator[tuple[Location, DiscrepancyOverview, CashPaymentsOverview]]:
    """Both overviews per location, each exactly the one its own page shows, in one query
    grouped by location on PostgreSQL (two elsewhere, one without `corrections`), however
    many locations there are. `sessions`, a narrowed sessions_in_range of the same
    locations and days, takes the place of all of them (the page's and the API's filters).

    A sum over locations is not offered here: they may keep different currencies.
    """
    locations = list(locations)
    if sessions is None:
        sessions = sessions_in_range(locations, first, last)
    sessions = sessions.order_by()
    rows = _written_by_location(sessions, corrections=corrections)
    if rows is None:
        rows = _aggregated_by_location(sessions, corrections=corrections)
    for location in locations:
        yield location, *_split({**_ZEROS, **rows.get(location.pk, {})})


def _written_by_location(
    sessions: QuerySet[TrackingSession], *, corrections: bool
) -> dict[int, dict] | None:
    """overviews_by_location's figures per location in one statement written once
    (PostgreSQL): the sessions' sums grouped by location, beside the corrections' grouped
    the same way. A location without a session in the selection has no row."""
    figures = _DISCREPANCY_SQL + _PAYMENTS_SQL
    names = [name for name, _ in figures + (_CORRECTIONS_SQL if corrections else ())]

    def statement(connection, rows: str, params: tuple) -> tuple[str, tuple]:
        sums = f"SELECT s.location_id, {_select(figures)} FROM ({rows}) s GROUP BY 1"
        if not corrections:
            return sums, params
        named = ", ".join(f"{sql} AS {name}" for name, sql in _CORRECTIONS_SQL)
        sql = (
            f"SELECT f.*, {', '.join(f'c.{name}' for name, _ in _CORRECTIONS_SQL)}"
            f" FROM ({sums}) f LEFT JOIN (SELECT s.location_id, {named}"
            f" {_corrections_of(rows)} GROUP BY 1) c ON c.location_id = f.location_id"
        )
        return sql, params + params

    found = fetch_around(sessions, _SUMMED_COLUMNS, statement)
    if found is None:
        return None
    return {
        location_id: {
            name: value for name, value in zip(names, values, strict=True) if value is not None
        }
        for location_id, *values in found
    }


def _aggregated_by_location(
    sessions: QuerySet[TrackingSession], *, corrections: bool
) -> dict[int, dict]:
    """overviews_by_location's figures per location built by the ORM (SQLite), in two
    queries grouped by location."""
    rows = {
        row.pop("location_id"): row
        for row in sessions.values("location_id").annotate(
            **_discrepancy_aggregates(), **_payments_aggregates()
        )
    }
    if corrections:
        for row in (
            Correction.objects.filter(session__in=sessions.values("pk"))
            .order_by()
            .values("session__location_id")
            .annotate(**_correction_aggregates())
        ):
            rows.setdefault(row.pop("session__location_id"), {}).update(row)
    return rows


def discrepancy_by_location(
    locations: Iterable[Location],
    first: dt.date,
    last: dt.date,
    *,
    sessions: QuerySet[TrackingSession] | None = None,
) -> Iterator[tuple[Location, DiscrepancyOverview]]:
    """One discrepancy overview per location, in one query (overviews_by_location)."""
    for location, discrepancy, _ in overviews_by_location(
        locations, first, last, sessions=sessions
    ):
        yield location, discrepancy


def cash_payments_by_location(
    locations: Iterable[Location],
    first: dt.date,
    last: dt.date,
    *,
    sessions: QuerySet[TrackingSession] | None = None,
) -> Iterator[tuple[Location, CashPaymentsOverview]]:
    """One cash-payments overview per location, in one query grouped by location (it was
    one query per location)."""
    for location, _, payments in overviews_by_location(
        locations, first, last, sessions=sessions, corrections=False
    ):
        yield location, payments


# --- the cash journal -------------------------------------------------------------------


@dataclass(frozen=True)
class JournalEntry:
    """One record of money of a session: a transaction, an adjustment or a closing transfer."""

    at: dt.datetime
    type: str  # sale, refund, adjustment_in, adjustment_out, closing_transfer
    record_id: int
    session: TrackingSession  # for a closing transfer: the sub session it closes
    amount: Decimal
    staff: Any = None
    payment_method: str | None = None
    reason: str = ""
    external_id: str | None = None
    late: bool | None = None
    received_at: dt.datetime | None = None
    to_session: TrackingSession | None = None  # a closing transfer's main session


JOURNAL_TYPES = ("sale", "refund", "adjustment_in", "adjustment_out", "closing_transfer")


class _JournalLookups:
    """Registers, staff and light session objects for journal rows, each fetched once.

    A busy session has hundreds of transactions; building the full session, register,
    location and user objects again for every row made the journal CPU-bound (about
    6,000 rows/s). Rows are read as tuples and these are shared between them.
    """

    # Sessions kept at once. Rows come in time order, so a session's rows are together
    # but for late sales; an evicted session is rebuilt without a query (its register is
    # kept). Keeping every session made a year of 50 stores (146,000 sessions) grow the
    # serving process by 376 MB.
    MAX_SESSIONS = 4096

    def __init__(self) -> None:
        self.registers: dict[int, Register] = {}
        self.staff: dict[tuple[str, int], Actor | None] = {}
        self.sessions: OrderedDict[int, TrackingSession] = OrderedDict()

    def session(self, session_id: int, register_id: int) -> TrackingSession:
        session = self.sessions.get(session_id)
        if session is not None:
            self.sessions.move_to_end(session_id)
        else:
            register = self.registers.get(register_id)
            if register is None:
                register = Register.objects.select_related("location").get(pk=register_id)
                self.registers[register_id] = register
            # A register never changes location once it has sessions, so its location is
            # the session's.
            session = TrackingSession(id=session_id, register=register, location=register.location)
            self.sessions[session_id] = session
            if len(self.sessions) > self.MAX_SESSIONS:
                self.sessions.popitem(last=False)
        return session

    def person(self, user_id: int | None, device_id: int | None = None) -> Actor | None:
        """Who recorded a row: its device when set, else its user (cashdrawer/actors.py)."""
        key = ("device", device_id) if device_id is not None else ("user", user_id)
        if key[1] is None:
            return None
        if key not in self.staff:
            if device_id is not None:
                self.staff[key] = actor(None, ApiToken.objects.filter(pk=device_id).first())
            else:
                self.staff[key] = actor(get_user_model().objects.filter(pk=user_id).first(), None)
        return self.staff[key]


def _journal_transactions(session_ids: QuerySet, chunk_size: int) -> Iterator[JournalEntry]:
    lookups = _JournalLookups()
    rows = (
        Transaction.objects.filter(session__in=session_ids)
        .order_by("occurred_at", "id")
        .values_list(
            "id",
            "session_id",
            "register_id",
            "kind",
            "payment_method",
            "amount",
            "occurred_at",
            "received_at",
            "external_id",
            "late",
            "recorded_by_id",
            "recorded_by_device_id",
        )
    )
    for (
        record_id,
        session_id,
        register_id,
        kind,
        payment_method,
        amount,
        occurred_at,
        received_at,
        external_id,
        late,
        recorded_by_id,
        recorded_by_device_id,
    ) in rows.iterator(chunk_size=chunk_size):
        yield JournalEntry(
            at=occurred_at,
            type=kind,
            record_id=record_id,
            session=lookups.session(session_id, register_id),
            amount=amount,
            staff=lookups.person(recorded_by_id, recorded_by_device_id),
            payment_method=payment_method,
            external_id=external_id,
            late=late,
            received_at=received_at,
        )


def _journal_adjustments(session_ids: QuerySet, chunk_size: int) -> Iterator[JournalEntry]:
    rows = (
        Adjustment.objects.filter(session__in=session_ids)
        .select_related("session__register", "session__location", "created_by", "created_by_device")
        .order_by("created_at", "id")
    )
    for row in rows.iterator(chunk_size=chunk_size):
        yield JournalEntry(
            at=row.created_at,
            type=f"adjustment_{row.direction}",
            record_id=row.pk,
            session=row.session,
            amount=row.amount,
            staff=row.created_by_actor,
            reason=row.reason,
        )


def _journal_transfers(session_ids: QuerySet, chunk_size: int) -> Iterator[JournalEntry]:
    rows = (
        ClosingTransfer.objects.filter(sub_session__in=session_ids)
        .select_related(
            "sub_session__register",
            "sub_session__location",
            "main_session__register",
            "created_by",
            "created_by_device",
        )
        .order_by("created_at", "id")
    )
    for row in rows.iterator(chunk_size=chunk_size):
        yield JournalEntry(
            at=row.created_at,
            type="closing_transfer",
            record_id=row.pk,
            session=row.sub_session,
            amount=row.amount,
            staff=row.created_by_actor,
            to_session=row.main_session,
        )


def cash_journal(
    sessions: QuerySet[TrackingSession], *, chunk_size: int = 2000
) -> Iterator[JournalEntry]:
    """Every transaction, adjustment and closing transfer of `sessions`, in time order.

    A closing transfer belongs to the sub session it closes. Three ordered streams are
    merged, each read in chunks, so a year of a busy chain is never held in memory; on a
    tie in time, transactions come before adjustments before transfers, then by id.
    """
    session_ids = sessions.order_by().values("pk")
    streams = [
        _journal_transactions(session_ids, chunk_size),
        _journal_adjustments(session_ids, chunk_size),
        _journal_transfers(session_ids, chunk_size),
    ]
    rank = {name: number for number, name in enumerate(JOURNAL_TYPES)}
    rank["refund"] = rank["sale"]
    rank["adjustment_out"] = rank["adjustment_in"]
    return heapq.merge(*streams, key=lambda entry: (entry.at, rank[entry.type], entry.record_id))
