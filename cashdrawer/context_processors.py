"""What the top bar needs on every page: which sections this user may open."""

from __future__ import annotations

from cashdrawer.selectors import OPERATOR_ROLES, REPORT_ROLES, locations_for


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def nav():
        return {
            "reports": locations_for(user, roles=REPORT_ROLES).exists(),
            "operations": locations_for(user, roles=OPERATOR_ROLES).exists(),
            "admin": user.is_staff,
        }

    # Lazy: pages that never show the bar (downloads, redirects) run no query.
    from django.utils.functional import SimpleLazyObject

    return {"nav": SimpleLazyObject(nav)}
