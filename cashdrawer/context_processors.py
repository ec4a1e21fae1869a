"""What the top bar needs on every page: which sections this user may open."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from cashdrawer.models import Location, Membership
from cashdrawer.selectors import OPERATOR_ROLES, REPORT_ROLES


def _roles(user) -> set[str]:
    """Every role the user holds at some location, in one query (a superuser: all, as
    cashdrawer.selectors treats them, once there is a location)."""
    if not user.is_active:
        return set()
    if user.is_superuser:
        return set(Membership.Role.values) if Location.objects.exists() else set()
    return set(Membership.objects.filter(user=user).values_list("role", flat=True).distinct())


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def nav():
        roles = _roles(user)
        return {
            "now": Membership.Role.MANAGER in roles,
            "reports": bool(roles & REPORT_ROLES),
            "operations": bool(roles & OPERATOR_ROLES),
            "tokens": Membership.Role.MANAGER in roles,
            "admin": user.is_staff,
        }

    # Lazy: pages that never show the bar (downloads, redirects) run no query.
    return {"nav": SimpleLazyObject(nav)}
