"""What a locked-out login gets (django-axes calls `lockout_response`; settings AXES_*).

After LOGIN_FAILURE_LIMIT failed logins for one username or from one address, every
further attempt is refused for LOGIN_LOCKOUT_MINUTES, the right password included: the
login page (and the admin's) shows it as a form error with status 429, the API answers
429 `locked_out` with Retry-After. Each refused attempt is a `login_failed` entry with
the reason `locked_out` in the audit trail (cashdrawer/audit.py).
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext

STATUS = 429


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    minutes = lockout_minutes()
    return ngettext(
        "Too many failed logins for this username or from this address. Logging in is "
        "refused for %(minutes)d minute; try again then, or ask a manager to check the "
        "account.",
        "Too many failed logins for this username or from this address. Logging in is "
        "refused for %(minutes)d minutes; try again then, or ask a manager to check the "
        "account.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: Any, original_response: Any = None, credentials: dict | None = None
) -> HttpResponse:
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": lockout_message(), "code": "locked_out"}, status=STATUS)
        response["Retry-After"] = retry_after
        return response
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    response = render(
        request,
        "registration/login.html",
        {
            "form": form,
            "lockout": lockout_message(),
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
        status=STATUS,
    )
    response["Retry-After"] = retry_after
    return response
