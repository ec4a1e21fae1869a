"""Reads of alerts: who receives a location's alerts, which alerts a manager sees, and
which of them they have not seen yet."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet

from alerts.models import Alert, AlertSeen
from cashdrawer.models import Location, Membership
from cashdrawer.selectors import locations_for

MANAGER_ONLY = frozenset({Membership.Role.MANAGER})


def recipients(*, location: Location | int, alert_mail: str | None = None) -> QuerySet:
    """The managers of `location` who receive its alerts: a manager membership with
    receives_alerts, an active user with an e-mail address; with `alert_mail`, only those
    who chose that kind of mail."""
    memberships = Membership.objects.filter(
        location=location, role=Membership.Role.MANAGER, receives_alerts=True
    )
    if alert_mail is not None:
        memberships = memberships.filter(alert_mail=alert_mail)
    return (
        get_user_model()
        .objects.filter(is_active=True, pk__in=memberships.values("user_id"))
        .exclude(email="")
        .order_by("pk")
    )


def alerts_for(user: Any) -> QuerySet[Alert]:
    """Every alert of the locations `user` manages (a superuser: all), each with whether
    this user has seen it (`is_seen`)."""
    return Alert.objects.filter(location__in=locations_for(user, roles=MANAGER_ONLY)).annotate(
        is_seen=Exists(AlertSeen.objects.filter(alert=OuterRef("pk"), user=user.pk))
    )


def _alert_locations(user: Any) -> Q:
    """The locations whose alerts `user` is shown unasked (the top bar, the Now page): those
    they manage and receive alerts of; a superuser, all."""
    if getattr(user, "is_superuser", False):
        return Q()
    return Q(
        location__in=Membership.objects.filter(
            user=user.pk, role=Membership.Role.MANAGER, receives_alerts=True
        ).values("location_id")
    )


def unseen(user: Any) -> QuerySet[Alert]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Alert.objects.none()
    return Alert.objects.filter(_alert_locations(user)).exclude(
        Exists(AlertSeen.objects.filter(alert=OuterRef("pk"), user=user.pk))
    )


def unseen_count(user: Any) -> int:
    """How many alerts `user` has not seen: one query."""
    return unseen(user).count()


def unseen_for(user: Any, limit: int = 5) -> list[Alert]:
    """The latest alerts `user` has not seen, for the Now page (one query)."""
    return list(
        unseen(user)
        .select_related("location", "session__register")
        .order_by("-created_at", "-id")[:limit]
    )
