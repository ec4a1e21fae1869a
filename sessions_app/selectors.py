"""Reads of sessions: what a session shows (DOMAIN.md rule 7) and what users may see."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet, Sum

from cashdrawer.money import quantize
from sessions_app.models import TrackingSession, Transaction


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


def open_session_of(register_id: int) -> TrackingSession | None:
    return TrackingSession.objects.filter(
        register_id=register_id, status=TrackingSession.Status.OPEN
    ).first()


def sessions_with_details() -> QuerySet[TrackingSession]:
    return TrackingSession.objects.select_related(
        "register", "location", "opened_by", "closed_by", "main_session__register"
    )


def is_blind(session: TrackingSession) -> bool:
    """Whether blind close hides the expected cash of this session now: its own register
    counts blind and it is open, or it is a sub session whose cash will be counted at a
    main register that counts blind and whose session is still open."""
    if session.is_open and session.register.blind_close:
        return True
    main = session.main_session
    return main is not None and main.is_open and main.register.blind_close
