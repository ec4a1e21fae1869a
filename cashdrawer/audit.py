"""The audit trail outside the services: logins, failed logins and logouts, and the admin's
changes of configuration with their old and new values.

The services (sessions_app/services.py, cashdrawer/authentication.py) write their own
entries with `write_audit`. What happens around them is recorded here:

- Django's auth signals record a login, a failed login (the username tried) and a logout
  through the browser and the admin; the token endpoint (POST /api/v1/auth/token/)
  authenticates with the same `authenticate()`, so its failed logins arrive here too, and
  it records its logins itself (cashdrawer/api/views.py).
- `form_changes` and `field_values` turn an admin form and an object into plain JSON for
  the entry: a value is a string, a number, a boolean, None or a list; a related object is
  its name. A password is never written, not even its hash: only that it changed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import models
from django.dispatch import receiver
from django.urls import reverse

from cashdrawer.services import record_login, record_login_failed, record_logout

PASSWORD_CHANGED = "password changed"
PASSWORD_SET = "password set"


# --- where a request came from ---------------------------------------------------------


def client_address(request: Any) -> str | None:
    """The client's IP address. Behind a trusted proxy (settings.TRUSTED_PROXIES, the
    proxies gunicorn trusts, FORWARDED_ALLOW_IPS) it is the last address in
    X-Forwarded-For that is not itself a trusted proxy; a client can put anything at the
    start of that header, but not after what its proxy appends."""
    meta = getattr(request, "META", None) or {}
    remote = _ip(meta.get("REMOTE_ADDR"))
    if remote is None or not _trusted(remote):
        return remote
    forwarded = [_ip(part) for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for address in reversed(forwarded):
        if address is None:
            break  # a malformed hop: nothing before it can be trusted
        if not _trusted(address):
            return address
    return remote


def _ip(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None


def _trusted(address: str) -> bool:
    proxies = getattr(settings, "TRUSTED_PROXIES", [])
    return "*" in proxies or address in proxies


def via(request: Any) -> str:
    """Which door a login came through: "admin", "api" or "browser"."""
    path = getattr(request, "path", "") or ""
    if path.startswith(reverse("admin:index")):
        return "admin"
    if path.startswith("/api/"):
        return "api"
    return "browser"


# --- logins, failed logins, logouts ---------------------------------------------------


@receiver(user_logged_in, dispatch_uid="cashdrawer.audit.login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_login(user=user, via=via(request), address=client_address(request))


@receiver(user_login_failed, dispatch_uid="cashdrawer.audit.login_failed")
def _login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    # Django has already masked the password in `credentials`; only the username is kept.
    username = credentials.get(get_user_model().USERNAME_FIELD)
    record_login_failed(
        username=username if isinstance(username, str) else "",
        via=via(request) if request is not None else "",
        address=client_address(request),
        # django-axes (whose receiver runs first) refused it, or this failure started a
        # lockout (cashdrawer/lockout.py).
        reason="locked_out" if getattr(request, "axes_locked_out", False) else "",
    )


@receiver(user_logged_out, dispatch_uid="cashdrawer.audit.logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:  # logging out without being logged in is nothing to record
        record_logout(user=user, via=via(request), address=client_address(request))


# --- the admin's changes ----------------------------------------------------------------


def is_password(name: str) -> bool:
    """A form field that carries a password or its hash (password, password1, ...)."""
    return "password" in name


def plain(value: Any) -> Any:
    """A value as JSON can hold it and a reader understands it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (Decimal, float)):
        return str(value)
    if isinstance(value, (dt.datetime, dt.time)):
        # To the second, as the admin shows and saves them: its forms drop microseconds.
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset, models.QuerySet)):
        return sorted(str(item) for item in value)
    return str(value)


def _model_field(obj: models.Model, name: str) -> models.Field | None:
    try:
        field = obj._meta.get_field(name)
    except Exception:  # FieldDoesNotExist: a form-only field
        return None
    return field if getattr(field, "concrete", False) or field.many_to_many else None


def _current(obj: models.Model, field: models.Field) -> Any:
    if field.many_to_many:
        return list(getattr(obj, field.name).all()) if obj.pk else []
    return getattr(obj, field.name)


def form_changes(form: Any, obj: models.Model, before: models.Model) -> dict[str, Any]:
    """What an admin form changed, field by field: {"name": {"old": …, "new": …}}.

    `before` is the object as it was in the database. The new value is the saved
    object's (so a name the model normalised is shown as stored); for a many-to-many
    field, which is saved after the object, the form's.
    """
    changes: dict[str, Any] = {}
    for name in form.changed_data:
        if is_password(name):
            changes["password"] = PASSWORD_CHANGED
            continue
        field = _model_field(obj, name)
        if field is None:
            continue
        # Many-to-many values are saved after the object: the form has the new ones.
        new = form.cleaned_data.get(name, []) if field.many_to_many else getattr(obj, field.name)
        old = _current(before, field)
        if plain(old) != plain(new):
            changes[name] = {"old": plain(old), "new": plain(new)}
    return changes


def field_values(obj: models.Model) -> dict[str, Any]:
    """Every stored value of an object, its password (hash) left out: what a new object
    was created with, or what a deleted one held."""
    return {
        field.name: plain(getattr(obj, field.name))
        for field in obj._meta.concrete_fields
        if not field.primary_key and not is_password(field.name)
    }
