"""Reads of sessions: what a session shows (DOMAIN.md rule 7) and what users may see."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet, Sum

from cashdrawer.money import quantize
from sessions_app.models import TrackingSession, Transaction


def _totals_by_method(session: TrackingSession, kind: str) -> dict[str, Decimal]:
    rows = (
        Transaction.objects.filter(session=session, kind=kind)
        .values("payment_method")
        .annotate(total=Sum("amount"))
        .order_by("payment_method")
    )
    return {row["payment_method"]: quantize(row["total"]) for row in rows}


def sales_by_method(session: TrackingSession) -> dict[str, Decimal]:
    """Sales per payment method (refunds are shown on their own, not deducted)."""
    return _totals_by_method(session, Transaction.Kind.SALE)


def refunds_by_method(session: TrackingSession) -> dict[str, Decimal]:
    return _totals_by_method(session, Transaction.Kind.REFUND)


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
