"""Raising alerts and marking them seen (docs/DOMAIN.md, "Alerts").

A close raises its alerts inside its own transaction (sessions_app.services.close_session
calls raise_close_alerts), so an alert exists exactly when the close does. The e-mail goes
out only after that transaction commits (transaction.on_commit): a mail server that is
down or slow never refuses or undoes a close, and a close that rolls back mails nothing.

Raising is idempotent: a session has at most one alert of each kind (a unique constraint),
so a repeated run of `raise_alerts` or a second look at a session adds nothing.

Neither raising nor marking seen writes an audit entry: an alert is itself an append-only
record of what happened and when (PostgreSQL refuses to change or delete one), and a
"seen" row says who saw it and when; neither changes money or configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from alerts.models import Alert, AlertSeen
from sessions_app.models import TrackingSession
from sessions_app.selectors import largest_discrepancy


def _raise(session: TrackingSession, kind: str, amount: Decimal | None = None) -> Alert | None:
    """The new alert, or None when the session has one of this kind already."""
    if Alert.objects.filter(session=session, kind=kind).exists():
        return None
    try:
        # A savepoint: a concurrent twin (two `raise_alerts` runs) loses on the unique
        # constraint without spoiling the caller's transaction.
        with transaction.atomic():
            alert = Alert.objects.create(
                location_id=session.location_id, session=session, kind=kind, amount=amount
            )
    except IntegrityError:
        return None
    from alerts.mail import send_alert_mail  # mail.py reads the models of this module

    alert_id = alert.pk
    transaction.on_commit(lambda: send_alert_mail(alert_id))
    return alert


def discrepancy_to_alert(session: TrackingSession) -> Decimal | None:
    """The discrepancy of a closed session that passes its location's threshold: of its end
    and total discrepancy, the one larger in size (the end one on a tie), when that is
    larger than the threshold (exactly the threshold does not alert)."""
    largest = largest_discrepancy(session)
    if largest is None or abs(largest) <= session.location.discrepancy_threshold:
        return None
    return largest


def raise_close_alerts(session: TrackingSession) -> list[Alert]:
    """The alerts of a session just closed, inside the transaction of its close.

    A sub-register's session raises none: it is never counted and has no end discrepancy;
    its cash is counted, and any difference shows, at its main register's close.
    """
    if session.register.is_sub:
        return []
    raised = []
    amount = discrepancy_to_alert(session)
    if amount is not None:
        raised.append(_raise(session, Alert.Kind.DISCREPANCY, amount))
    if session.counted_cash is None:
        raised.append(_raise(session, Alert.Kind.NOT_COUNTED))
    return [alert for alert in raised if alert is not None]


def raise_open_too_long_alerts(now: dt.datetime | None = None) -> list[Alert]:
    """An alert for each session open longer than settings.ALERT_OPEN_HOURS that has none
    yet. Idempotent and cheap when there is nothing new: one query."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(hours=settings.ALERT_OPEN_HOURS)
    overdue = (
        TrackingSession.objects.filter(status=TrackingSession.Status.OPEN, opened_at__lt=cutoff)
        .exclude(
            Exists(Alert.objects.filter(session=OuterRef("pk"), kind=Alert.Kind.OPEN_TOO_LONG))
        )
        .order_by("opened_at", "pk")
    )
    raised = []
    for session in overdue:
        with transaction.atomic():
            alert = _raise(session, Alert.Kind.OPEN_TOO_LONG)
        if alert is not None:
            raised.append(alert)
    return raised


def mark_seen(*, alerts: Alert | Iterable[Alert], user: Any) -> None:
    """Mark alerts seen by `user` (and by nobody else). Those seen before keep the time
    they were first seen. The caller has scoped the alerts to what the user may see."""
    if isinstance(alerts, Alert):
        alerts = [alerts]
    now = timezone.now()
    rows = [AlertSeen(alert_id=alert.pk, user_id=user.pk, seen_at=now) for alert in alerts]
    AlertSeen.objects.bulk_create(rows, ignore_conflicts=True)
