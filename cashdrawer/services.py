"""Operations shared by every app: the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import models

from cashdrawer import rows
from cashdrawer.models import AuditEntry, Location

# write_audit's default: the location the object itself belongs to.
OWN_LOCATION = object()


def write_audit(
    *,
    user: Any,
    action: str,
    obj: models.Model,
    data: dict | None = None,
    location: Location | object | None = OWN_LOCATION,
    address: str | None = None,
) -> AuditEntry:
    """Record who did what to which object. Called inside the operation's transaction.

    The location is the object's own store when it has one (a register's, a session's, a
    sale's), so the admin can list one store's trail; pass one (or None) where the object
    cannot say: a location about to be deleted.
    """
    if location is OWN_LOCATION:
        location_id = location_id_of(obj)
    else:
        location_id = location.pk if isinstance(location, Location) else None
    # rows.insert: the INSERT that create() sends, written once (an entry for every sale).
    return rows.insert(
        AuditEntry(
            user=user if getattr(user, "pk", None) else None,
            action=action,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            location_id=location_id,
            address=address,
            data=data or {},
        )
    )


def location_id_of(obj: Any) -> int | None:
    """The store an object belongs to, found through the relations every record has: its
    own `location`, else its register's, else its session's (a sub session's for a
    closing transfer). The services create records with these relations set, so reading
    them costs no query there."""
    if isinstance(obj, Location):
        return obj.pk
    if getattr(obj, "location_id", None):
        return obj.location_id
    for relation in ("register", "session", "sub_session"):
        if getattr(obj, f"{relation}_id", None):
            return getattr(obj, relation).location_id
    return None


# --- logins ------------------------------------------------------------------------------

# A username as typed is kept for a failed login, up to this many characters.
USERNAME_KEPT = 150


def record_login(*, user: Any, via: str, address: str | None) -> AuditEntry:
    """A login: through the browser, the admin or the token endpoint (`via`)."""
    return write_audit(user=user, action="login", obj=user, data={"via": via}, address=address)


def record_logout(*, user: Any, via: str, address: str | None) -> AuditEntry:
    return write_audit(user=user, action="logout", obj=user, data={"via": via}, address=address)


def record_login_failed(
    *, username: str, via: str, address: str | None, reason: str = ""
) -> AuditEntry:
    """A failed login, with the username tried. Nobody proved who they are, so the entry
    names no user; its object is the account of that username when there is one, so the
    attempts on one account can be found together. The caller keeps it out of any
    transaction that the refusal rolls back. `reason` is given when the password was
    right but the door was closed to the user (the admin, to a non-staff account)."""
    User = get_user_model()
    # PostgreSQL's JSON refuses NUL characters; a username never has one.
    tried = username.replace("\x00", "")[:USERNAME_KEPT]
    account = User._default_manager.filter(**{User.USERNAME_FIELD: tried}).first()
    return AuditEntry.objects.create(
        user=None,
        action="login_failed",
        object_type=User._meta.label_lower,
        object_id=str(account.pk) if account is not None else "",
        address=address,
        data={"via": via, "username": tried, **({"reason": reason} if reason else {})},
    )
