"""Logging in and out, and the landing page for each role."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from cashdrawer.selectors import MANAGER_ROLES, OPERATOR_ROLES, REPORT_ROLES, locations_for


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """POST only (Django's default), so a link or an image can never log someone out."""


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Managers land on Now (every register of their stores), other readers of reports
    (accountants) on the overview, cashiers on their registers. A link with a query
    (?location=…) still lands a manager on that overview."""
    query = request.GET.urlencode()  # keeps ?location=… from links such as the admin's
    # A link that names a store or range asks for that store's overview; plain "/" is Now.
    if not query and locations_for(request.user, roles=MANAGER_ROLES).exists():
        return redirect("operations:now")
    if locations_for(request.user, roles=REPORT_ROLES).exists():
        return redirect(reverse("reports:overview") + (f"?{query}" if query else ""))
    if locations_for(request.user, roles=OPERATOR_ROLES).exists():
        return redirect("operations:registers")
    return render(request, "no_locations.html", status=403)
