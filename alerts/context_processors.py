"""The top bar's alert badge: how many alerts this manager has not seen."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from alerts.selectors import unseen_count


def unseen_alerts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy, and read by base.html only for managers: one query, on pages with a top bar.
    return {"alerts_unseen": SimpleLazyObject(lambda: unseen_count(user))}
