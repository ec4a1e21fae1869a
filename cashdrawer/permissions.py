"""Who may do what through the API (API.md "Who sees what").

Visibility comes first and from one place: every view fetches its objects from the
querysets of cashdrawer/selectors.py, so another location's object is never found (404).
Then the role at the object's location decides (403):

- read: any role at the location (manager, cashier, accountant);
- operate a register (open, adjust, close, post transactions): manager or cashier;
- configure (locations, registers, device tokens): manager;
- a device token acts only on its own register, and only where a view allows devices
  at all (its register's sessions and transactions, its register, the denominations);
  anything else is 403.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from cashdrawer.models import Location, Membership
from cashdrawer.selectors import OPERATOR_ROLES, roles_of

Role = Membership.Role
MANAGER_ONLY = frozenset({Role.MANAGER})

DEVICE_MESSAGE = _("A device token may only act on its own register.")
OPERATE_MESSAGE = _("Only a manager or a cashier of this location may do this.")
MANAGE_MESSAGE = _("Only a manager of this location may do this.")


def is_device(request: Any) -> bool:
    return bool(getattr(request.auth, "is_device_token", False))


def device_register_id(request: Any) -> int | None:
    return request.auth.register_id if is_device(request) else None


class DevicesOnlyWhereAllowed(BasePermission):
    """Device tokens are refused (403) unless the view or action lists itself as theirs:
    `device_allowed = True`, or `device_actions = {"retrieve", ...}` on a viewset."""

    message = DEVICE_MESSAGE

    def has_permission(self, request: Any, view: Any) -> bool:
        if not is_device(request):
            return True
        if getattr(view, "device_allowed", False):
            return True
        return getattr(view, "action", None) in getattr(view, "device_actions", ())


_NOT_READ = object()


def role_for(request: Any, location: Location | int) -> str | None:
    """The user's role at a location. Every role of the user is read at the first ask,
    in one query: a list of sessions of many locations asked once per location."""
    location_id = location if isinstance(location, int) else location.pk
    roles = request.__dict__.get("_cashdrawer_roles", _NOT_READ)
    if roles is _NOT_READ:
        roles = request.__dict__["_cashdrawer_roles"] = roles_of(request.user)
    if roles is None:  # a superuser
        return Role.MANAGER
    return roles.get(location_id)


def remember_role(request: Any, user: Any, location_id: int, membership_role: str | None) -> None:
    """Fill role_for's cache with a role already read: the token lookup reads the role
    of a device token's (active) user at its register's location in the same query, so
    a terminal's sale asks no second time. `user` is the request's user, passed in because
    the authentication that calls this is what sets it."""
    role = Role.MANAGER if user.is_superuser else membership_role
    request.__dict__.setdefault("_cashdrawer_roles", {})[location_id] = role


def check_register(request: Any, register_id: int) -> None:
    """A device token acting on another register than its own: 403."""
    if is_device(request) and request.auth.register_id != register_id:
        raise PermissionDenied(DEVICE_MESSAGE)


def check_operator(request: Any, location: Location | int, register_id: int) -> None:
    check_register(request, register_id)
    if role_for(request, location) not in OPERATOR_ROLES:
        raise PermissionDenied(OPERATE_MESSAGE)


def check_manager(request: Any, location: Location | int) -> None:
    if is_device(request):
        raise PermissionDenied(DEVICE_MESSAGE)
    if role_for(request, location) != Role.MANAGER:
        raise PermissionDenied(MANAGE_MESSAGE)


def sees_blind_figures(request: Any, location: Location | int) -> bool:
    """Whether the figures hidden by blind close are shown: to managers and accountants
    (who do not count the drawer), not to cashiers nor to device tokens."""
    if is_device(request):
        return False
    return role_for(request, location) in {Role.MANAGER, Role.ACCOUNTANT}
