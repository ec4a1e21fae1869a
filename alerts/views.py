"""The alerts pages: the list of a manager's alerts, and marking them seen.

Managers only, of the stores they manage (cashdrawer/selectors.py); cashiers and
accountants get 403, another store's alert is never fetched (404). Loading the list also
raises the alerts of sessions open too long, so that `make run` shows them without a
timer running `manage.py raise_alerts` (an idempotent query, cheap when nothing is new).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from alerts import selectors, services
from cashdrawer.models import Membership
from cashdrawer.scope import scope_from_request
from cashdrawer.selectors import locations_for

MANAGER_ONLY = frozenset({Membership.Role.MANAGER})
PAGE_SIZE = 25


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """403 for anyone who manages no location."""
    if not locations_for(request.user).exists():
        return render(request, "no_locations.html", status=403)
    if not locations_for(request.user, roles=MANAGER_ONLY).exists():
        return render(request, "alerts/no_access.html", status=403)
    return None


def _list_url(location: str | None = None) -> str:
    url = reverse("alerts:list")
    return f"{url}?{urlencode({'location': location})}" if location else url


def _back(request: HttpRequest) -> str:
    """Where a "seen" button leads back to: the page it was on (this site only), else the
    list."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return _list_url()


@login_required
@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    scope = scope_from_request(request, roles=MANAGER_ONLY)
    services.raise_open_too_long_alerts()
    alerts = (
        selectors.alerts_for(request.user)
        .filter(location__in=scope.selected)
        .select_related("location", "session__register")
        .order_by("-created_at", "-id")
    )
    page = Paginator(alerts, PAGE_SIZE).get_page(request.GET.get("page"))
    location_param = str(scope.location.pk) if scope.location else ""
    return render(
        request,
        "alerts/list.html",
        {
            "section": "alerts",
            "scope": scope,
            "page": page,
            "page_numbers": page.paginator.get_elided_page_range(page.number),
            "location_param": location_param,
            "unseen_here": selectors.unseen(request.user)
            .filter(location__in=scope.selected)
            .exists(),
        },
    )


@login_required
@require_POST
def mark_seen(request: HttpRequest, pk: int) -> HttpResponse:
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    alert = get_object_or_404(selectors.alerts_for(request.user), pk=pk)
    services.mark_seen(alerts=alert, user=request.user)
    return redirect(_back(request))


@login_required
@require_POST
def mark_all_seen(request: HttpRequest) -> HttpResponse:
    """Every alert the list shows (all stores, or the one chosen) is marked seen."""
    refusal = _refusal(request)
    if refusal is not None:
        return refusal
    managed = locations_for(request.user, roles=MANAGER_ONLY)
    location = request.POST.get("location", "")
    alerts = selectors.alerts_for(request.user).filter(is_seen=False)
    if location:
        alerts = alerts.filter(location=get_object_or_404(managed, pk=_id(location)))
    services.mark_seen(alerts=alerts.only("pk"), user=request.user)
    return redirect(_list_url(location))


def _id(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 18 else 0
