"""Reads of sessions: what a session shows (DOMAIN.md rule 7) and what users may see."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection, connections, router
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from cashdrawer.models import AuditEntry, Location
from cashdrawer.money import DECIMAL_PLACES, FIGURE_MAX_DIGITS, quantize
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    DiscrepancyNote,
    TrackingSession,
    Transaction,
)


def totals_by_method(
    sessions: Iterable[TrackingSession], kind: str
) -> dict[int, dict[str, Decimal]]:
    """Per session, the totals of one kind of transaction per payment method, in one
    query (a page of sessions in the API reads them all at once)."""
    rows = (
        Transaction.objects.filter(session__in=[s.pk for s in sessions], kind=kind)
        .values("session_id", "payment_method")
        .annotate(total=Sum("amount"))
        .order_by("session_id", "payment_method")
    )
    result: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in rows:
        result[row["session_id"]][row["payment_method"]] = quantize(row["total"])
    return result


def sales_by_method(session: TrackingSession) -> dict[str, Decimal]:
    """Sales per payment method (refunds are shown on their own, not deducted)."""
    return totals_by_method([session], Transaction.Kind.SALE).get(session.pk, {})


def refunds_by_method(session: TrackingSession) -> dict[str, Decimal]:
    return totals_by_method([session], Transaction.Kind.REFUND).get(session.pk, {})


@dataclass(frozen=True)
class MethodTotals:
    """A session's sales and refunds per payment method, and how many transactions it has."""

    sales: dict[str, Decimal]
    refunds: dict[str, Decimal]
    count: int  # every transaction, of either kind and any method


def method_totals(session: TrackingSession) -> MethodTotals:
    """The same totals as sales_by_method and refunds_by_method, and the number of
    transactions, in one query over the session's rows (the session page read them three
    times: sales, refunds, and a count for its pages)."""
    rows = (
        Transaction.objects.filter(session=session)
        .order_by()
        .values("kind", "payment_method")
        .annotate(total=Sum("amount"), transactions=Count("id"))
        .order_by("payment_method")
    )
    totals: dict[str, dict[str, Decimal]] = {kind: {} for kind in Transaction.Kind.values}
    count = 0
    for row in rows:
        totals[row["kind"]][row["payment_method"]] = quantize(row["total"])
        count += row["transactions"]
    return MethodTotals(
        sales=totals[Transaction.Kind.SALE],
        refunds=totals[Transaction.Kind.REFUND],
        count=count,
    )


def open_session_of(register_id: int) -> TrackingSession | None:
    return TrackingSession.objects.filter(
        register_id=register_id, status=TrackingSession.Status.OPEN
    ).first()


def sessions_with_details() -> QuerySet[TrackingSession]:
    return TrackingSession.objects.select_related(
        "register",
        "location",
        "opened_by",
        "opened_by_device",
        "closed_by",
        "closed_by_device",
        "main_session__register",
    )


def with_corrections(sessions: QuerySet[TrackingSession]) -> QuerySet[TrackingSession]:
    """Each session with `corrections_total` (the sum of its corrections, 0.00 without
    any) and `total_discrepancy_after_corrections`.

    A closed session's row never changes (a trigger refuses it), so the corrections made
    later cannot be stored on it: they are summed in a correlated subquery on the
    corrections' session index, one query for a whole page or file of sessions.
    """
    money = DecimalField(max_digits=FIGURE_MAX_DIGITS + 1, decimal_places=DECIMAL_PLACES)
    totals = (
        Correction.objects.filter(session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return sessions.annotate(
        corrections_total=Coalesce(
            Subquery(totals, output_field=money), Decimal("0.00"), output_field=money
        ),
    ).annotate(
        total_discrepancy_after_corrections=ExpressionWrapper(
            F("total_discrepancy") + F("corrections_total"), output_field=money
        )
    )


def recent_closes(
    register_ids: Iterable[int], *, per_register: int = 3
) -> dict[int, list[TrackingSession]]:
    """Per register, its last `per_register` closed sessions, newest first, in one query
    (a window numbers each register's closes; the Now page reads every register at once)."""
    rows = (
        TrackingSession.objects.filter(
            register_id__in=list(register_ids), status=TrackingSession.Status.CLOSED
        )
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("register_id")],
                order_by=[F("closed_at").desc(), F("id").desc()],
            )
        )
        .filter(recency__lte=per_register)
        .select_related("closed_by", "closed_by_device")
        .order_by("register_id", "recency")
    )
    result: dict[int, list[TrackingSession]] = defaultdict(list)
    for session in rows:
        result[session.register_id].append(session)
    return result


@dataclass(frozen=True)
class CashToday:
    """A register's cash transactions of the store's current local day."""

    sales: Decimal = Decimal("0.00")
    refunds: Decimal = Decimal("0.00")

    @property
    def net(self) -> Decimal:
        return self.sales - self.refunds


def local_today_bounds(location: Location, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [start, end) of the location's local day that holds `now`."""
    today = now.astimezone(location.tzinfo).date()
    start = dt.datetime.combine(today, dt.time.min, tzinfo=location.tzinfo)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=location.tzinfo)
    return start, end


def cash_today(
    locations: Iterable[Location], *, now: dt.datetime | None = None
) -> dict[int, CashToday]:
    """Per register, the cash sales and cash refunds that occurred on its store's local
    day so far (by when the sale happened, not when the terminal sent it), whatever
    session they are in. One query for all stores, each with its own time zone's day."""
    now = now or timezone.now()
    condition = Q(pk__in=[])
    for location in locations:
        start, end = local_today_bounds(location, now)
        condition |= Q(register__location=location, occurred_at__gte=start, occurred_at__lt=end)
    rows = (
        Transaction.objects.filter(condition, payment_method="cash")
        .order_by()
        .values("register_id")
        .annotate(
            sales=Sum("amount", filter=Q(kind=Transaction.Kind.SALE)),
            refunds=Sum("amount", filter=Q(kind=Transaction.Kind.REFUND)),
        )
    )
    return {
        row["register_id"]: CashToday(
            sales=quantize(row["sales"] or Decimal(0)),
            refunds=quantize(row["refunds"] or Decimal(0)),
        )
        for row in rows
    }


def is_blind(session: TrackingSession) -> bool:
    """Whether blind close hides the expected cash of this session now: it opened blind and
    is still open, or it is a sub session whose cash will be counted at a main session that
    opened blind and is still open. The register's setting is only the default for the
    next session: switching it does not change a session already open."""
    if session.is_open and session.blind_close:
        return True
    main = session.main_session
    return main is not None and main.is_open and main.blind_close


def largest_discrepancy(session: TrackingSession) -> Decimal | None:
    """Of a closed session's end and total discrepancy, the one larger in size (the end one
    on a tie); None when it has neither."""
    figures = [f for f in (session.end_discrepancy, session.total_discrepancy) if f is not None]
    return max(figures, key=abs) if figures else None  # max keeps the first of equals


def passes_threshold(session: TrackingSession, threshold: Decimal | None = None) -> bool:
    """Whether a counted close's end or total discrepancy is larger (short or over) than
    the location's threshold; exactly the threshold passes. A close without a count, and
    a sub session (never counted), have nothing to check."""
    if session.end_discrepancy is None:
        return False
    if threshold is None:
        threshold = session.location.discrepancy_threshold
    return abs(largest_discrepancy(session)) > threshold


def counted_blind(session: TrackingSession) -> bool:
    """Whether the session is counted blind, open or closed: it opened blind, or it is a
    sub session whose main session opened blind (its badge on every page). Whether that
    hides anything now is `is_blind`."""
    main = session.main_session
    return session.blind_close or (main is not None and main.blind_close)


# The user of an audit entry as the page shows them (a name, or the username).
USER_NAME_FIELDS = ("username", "first_name", "last_name")


class AuditTrail:
    """The audit entries of a session and of every record in it (transactions,
    adjustments, count lines, corrections, its discrepancy note, closing transfers), in
    time order, for a Paginator: `read` a page of them and the count comes with it.

    One statement, written once: a UNION ALL of one branch per kind of record, each
    joining the session's rows to the entries' (object_type, object_id) index. The query
    it replaced matched an OR of seven subqueries, which PostgreSQL can only run as a
    scan of every entry (1.2 s with two million of them), and it ran twice, once for the
    pager's count. The count is a window over the same rows as the page.
    """

    def __init__(self, session: TrackingSession, *, newest_first: bool = False) -> None:
        self.session = session
        self.newest_first = newest_first
        self._total: int | None = None
        self._offset: int | None = None
        self._rows: list[AuditEntry] = []

    def read(self, *, offset: int, limit: int) -> list[AuditEntry]:
        """The entries [offset, offset + limit); the count too, when there are any."""
        sql = _audit_sql()["newest" if self.newest_first else "oldest"]
        rows = list(
            AuditEntry.objects.raw(
                sql, {"session": self.session.pk, "offset": offset, "limit": limit}
            )
        )
        User = get_user_model()
        for entry in rows:
            self._total = entry.trail_total
            # select_related("user") as the ORM makes it, from the columns read with it.
            if entry.user_id is None:
                entry.user = None
                continue
            names = [
                entry.user_id,
                entry.user_username,
                entry.user_first_name,
                entry.user_last_name,
            ]
            entry.user = User.from_db(entry._state.db, ["id", *USER_NAME_FIELDS], names)
        if not rows and offset == 0:
            self._total = 0
        self._offset, self._rows = offset, rows
        return rows

    def count(self) -> int:
        if self._total is None:
            with connections[router.db_for_read(AuditEntry)].cursor() as cursor:
                cursor.execute(_audit_sql()["count"], {"session": self.session.pk})
                self._total = cursor.fetchone()[0]
        return self._total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[AuditEntry]:
        start, stop = window.start or 0, window.stop
        if start == self._offset and stop - start <= len(self._rows):
            return self._rows[: stop - start]
        return self.read(offset=start, limit=stop - start)


def audit_trail(session: TrackingSession, *, newest_first: bool = False) -> AuditTrail:
    return AuditTrail(session, newest_first=newest_first)


@cache
def _audit_sql() -> dict[str, str]:
    """The audit trail's statements: a page oldest first, newest first, and the count."""
    entries = AuditEntry._meta
    quote = connection.ops.quote_name

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    def branch(model, *keys: str) -> str:
        record_id = quote(model._meta.pk.column)
        on_session = " OR ".join(f"r.{column(model, key)} = %(session)s" for key in keys)
        return (
            f"SELECT a.* FROM {quote(model._meta.db_table)} r"
            f" JOIN {quote(entries.db_table)} a"
            f" ON a.{column(AuditEntry, 'object_type')} = '{model._meta.label_lower}'"
            f" AND a.{column(AuditEntry, 'object_id')} = CAST(r.{record_id} AS TEXT)"
            f" WHERE {on_session}"
        )

    own = (
        f"SELECT a.* FROM {quote(entries.db_table)} a"
        f" WHERE a.{column(AuditEntry, 'object_type')} = '{TrackingSession._meta.label_lower}'"
        f" AND a.{column(AuditEntry, 'object_id')} = CAST(%(session)s AS TEXT)"
    )
    trail = " UNION ALL ".join(
        [
            own,
            branch(Transaction, "session"),
            branch(Adjustment, "session"),
            branch(CountLine, "session"),
            branch(Correction, "session"),
            branch(DiscrepancyNote, "session"),
            branch(ClosingTransfer, "sub_session", "main_session"),
        ]
    )
    at, pk = column(AuditEntry, "at"), quote(entries.pk.column)
    users = get_user_model()._meta
    user_columns = ", ".join(
        f"u.{quote(users.get_field(name).column)} AS user_{name}" for name in USER_NAME_FIELDS
    )

    def page(direction: str) -> str:
        order = f"{at} {direction}, {pk} {direction}"
        return (
            f"SELECT p.*, {user_columns} FROM ("
            f"SELECT t.*, COUNT(*) OVER () AS trail_total FROM ({trail}) t"
            f" ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s) p"
            f" LEFT JOIN {quote(users.db_table)} u"
            f" ON u.{quote(users.pk.column)} = p.{column(AuditEntry, 'user')}"
            f" ORDER BY p.{at} {direction}, p.{pk} {direction}"
        )

    return {
        "oldest": page("ASC"),
        "newest": page("DESC"),
        "count": f"SELECT COUNT(*) FROM ({trail}) t",
    }
