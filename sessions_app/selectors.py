"""Reads of sessions: what a session shows (DOMAIN.md rule 7) and what users may see."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet, Sum

from sessions_app.models import TrackingSession, Transaction


def sales_by_method(session: TrackingSession) -> dict[str, Decimal]:
    """Sales per payment method (refunds are shown on their own, not deducted)."""
    rows = (
        Transaction.objects.filter(session=session, kind=Transaction.Kind.SALE)
        .values("payment_method")
        .annotate(total=Sum("amount"))
        .order_by("payment_method")
    )
    return {row["payment_method"]: row["total"] for row in rows}


def refunds_by_method(session: TrackingSession) -> dict[str, Decimal]:
    rows = (
        Transaction.objects.filter(session=session, kind=Transaction.Kind.REFUND)
        .values("payment_method")
        .annotate(total=Sum("amount"))
        .order_by("payment_method")
    )
    return {row["payment_method"]: row["total"] for row in rows}


def open_session_of(register_id: int) -> TrackingSession | None:
    return TrackingSession.objects.filter(
        register_id=register_id, status=TrackingSession.Status.OPEN
    ).first()


def sessions_with_details() -> QuerySet[TrackingSession]:
    return TrackingSession.objects.select_related(
        "register", "location", "opened_by", "closed_by", "main_session__register"
    )
