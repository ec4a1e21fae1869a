"""Who did it: a person, or a device (a terminal with its register's device token).

The services take `by`, which is a user or a device ApiToken. A record stores a person in
its `*_by` column and a device in its `*_by_device` column, never both: a terminal's sale
is the terminal's, not the manager's who issued its token. That manager is named in the
audit entry beside the device (sessions_app/services.py), so every action still leads to
a responsible person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from cashdrawer.models import ApiToken


def is_device(by: Any) -> bool:
    return isinstance(by, ApiToken) and by.kind == ApiToken.Kind.DEVICE


def person_of(by: Any) -> Any:
    """The user to store in a record's `*_by` column: None for a device or nobody."""
    if isinstance(by, ApiToken):
        return None
    return by if getattr(by, "pk", None) else None


def device_of(by: Any) -> ApiToken | None:
    return by if is_device(by) else None


def responsible_user(by: Any) -> Any:
    """The person an audit entry names: the user, or the manager who issued the device's
    token."""
    if isinstance(by, ApiToken):
        return by.user
    return by if getattr(by, "pk", None) else None


def device_name(token: ApiToken) -> str:
    return token.name or _("Device token %(prefix)s…") % {"prefix": token.prefix}


def actor_of_request(request: Any) -> Any:
    """What an API or page request acts as: its device token, or its user."""
    token = getattr(request, "auth", None)
    if is_device(token):
        return token
    return request.user


@dataclass(frozen=True)
class Actor:
    """Who did something, as pages, the API and the CSV files show it."""

    kind: str  # "user" or "device"
    id: int
    name: str

    def __str__(self) -> str:
        return self.name


def actor(user: Any, device: ApiToken | None) -> Actor | None:
    """From a record's two columns: the device when set, else the user, else nobody."""
    if device is not None:
        return Actor("device", device.pk, device_name(device))
    if user is not None:
        return Actor("user", user.pk, user.get_full_name() or user.get_username())
    return None
