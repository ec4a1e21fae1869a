"""Who may see and do what, by location membership and role.

Every list a user sees starts from one of these querysets, so another location's
objects are never fetched at all (views answer 404 for them, not 403).

- manager: everything at the location, including configuration and corrections;
- cashier: operates registers (open, adjust, close, post transactions), no reports;
- accountant: reads sessions and reports and exports, changes nothing.
A superuser is treated as a manager everywhere.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cashdrawer.models import Location, Membership, Register

Role = Membership.Role

OPERATOR_ROLES = frozenset({Role.MANAGER, Role.CASHIER})
REPORT_ROLES = frozenset({Role.MANAGER, Role.ACCOUNTANT})
MANAGER_ROLES = frozenset({Role.MANAGER})


def _is_superuser(user: Any) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_superuser", False))


def locations_for(user: Any, *, roles: frozenset[str] | None = None) -> QuerySet[Location]:
    """The locations `user` belongs to (with one of `roles`, when given)."""
    if _is_superuser(user):
        return Location.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Location.objects.none()
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return Location.objects.filter(pk__in=memberships.values("location_id"))


def role_at(user: Any, location: Location) -> str | None:
    if _is_superuser(user):
        return Role.MANAGER
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return (
        Membership.objects.filter(user=user, location=location)
        .values_list("role", flat=True)
        .first()
    )


def roles_of(user: Any) -> dict[int, str] | None:
    """The user's role at each of their locations by location id, in one query (what
    role_at answers per location); None for a superuser, a manager everywhere."""
    if _is_superuser(user):
        return None
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("location_id", "role"))


def can_operate_registers(user: Any, location: Location) -> bool:
    return role_at(user, location) in OPERATOR_ROLES


def can_read_reports(user: Any, location: Location) -> bool:
    return role_at(user, location) in REPORT_ROLES


def can_manage(user: Any, location: Location) -> bool:
    return role_at(user, location) == Role.MANAGER


def registers_for(user: Any) -> QuerySet[Register]:
    return Register.objects.filter(location__in=locations_for(user)).select_related("location")


def sessions_for(user: Any):
    from sessions_app.models import TrackingSession

    return TrackingSession.objects.filter(location__in=locations_for(user))


def transactions_for(user: Any):
    from sessions_app.models import Transaction

    return Transaction.objects.filter(register__location__in=locations_for(user))
