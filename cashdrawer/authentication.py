"""API credentials: user tokens and device tokens, sent as `Authorization: Token <key>`.

Our own small model (cashdrawer.models.ApiToken) rather than a library: DRF's authtoken
stores the key in clear and allows one per user; django-rest-knox stores a digest but
knows nothing of a token bound to one register, nor of a last-used time. One model
covers both kinds, the revocation and the admin.

A request authenticated by a token has `request.auth` set to the ApiToken:
`request.auth.is_device_token` and `request.auth.register_id` tell a device token (bound
to one register) from a user token. A device token acts as the manager who created it,
so every action of a terminal names a real staff member; it stops working when that
manager is deactivated, leaves the location, or the token is revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from cashdrawer import rows
from cashdrawer.models import ApiToken, Location, Membership, Register
from cashdrawer.permissions import remember_role
from cashdrawer.services import write_audit

KEYWORD = "Token"
PREFIXES = {ApiToken.Kind.USER: "cdu_", ApiToken.Kind.DEVICE: "cdd_"}
# last_used_at is written at most once a minute per token: a busy terminal would otherwise
# write (and lock) its token row on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
User = get_user_model()


# The token with its user, its register and location, and (for a device token) its
# user's role at the register's location, in one query: a terminal's every request reads
# it, and revoking the membership stops the token at once. Hand-written (cashdrawer/rows.py):
# the ORM took longer to build this statement than PostgreSQL takes to answer it.
_ROLE_AT_REGISTER = (
    f'(SELECT "m"."role" FROM {rows.table(Membership)} "m"'
    ' WHERE "m"."location_id" = "r"."location_id" AND "m"."user_id" = "t"."user_id" LIMIT 1)'
)
_TOKEN_SQL = (
    "SELECT "
    + ", ".join(
        [
            *rows.columns(ApiToken, "t"),
            _ROLE_AT_REGISTER,
            *rows.columns(User, "u"),
            *rows.columns(Register, "r"),
            *rows.columns(Location, "l"),
        ]
    )
    + f' FROM {rows.table(ApiToken)} "t"'
    + f' INNER JOIN {rows.table(User)} "u" ON "u"."id" = "t"."user_id"'
    + f' LEFT OUTER JOIN {rows.table(Register)} "r" ON "r"."id" = "t"."register_id"'
    + f' LEFT OUTER JOIN {rows.table(Location)} "l" ON "l"."id" = "r"."location_id"'
    + ' WHERE "t"."digest" = %s'
)


def _token_by_digest(digest: str) -> ApiToken | None:
    """The token with this digest (unique), its user and register (with its location)
    cached on it, and `register_role` set; None when there is none."""
    using = router.db_for_read(ApiToken)
    with connections[using].cursor() as cursor:
        cursor.execute(_TOKEN_SQL, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    token = rows.instance(ApiToken, using, row)
    at = rows.width(ApiToken)
    token.register_role = row[at]
    user = rows.instance(User, using, row, at + 1)
    at += 1 + rows.width(User)
    register = rows.instance(Register, using, row, at)
    if register is not None:
        rows.cache_related(
            register, "location", rows.instance(Location, using, row, at + rows.width(Register))
        )
    rows.cache_related(token, "user", user)
    rows.cache_related(token, "register", register)
    return token


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret(kind: str) -> str:
    # 32 random bytes (256 bits); the prefix says the kind, which helps secret scanners.
    return PREFIXES[kind] + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def issue_user_token(*, user: Any, name: str = "") -> IssuedToken:
    secret = _new_secret(ApiToken.Kind.USER)
    token = ApiToken.objects.create(
        kind=ApiToken.Kind.USER,
        user=user,
        name=name,
        prefix=secret[:8],
        digest=token_digest(secret),
        expires_at=timezone.now() + dt.timedelta(days=settings.USER_TOKEN_DAYS),
    )
    write_audit(user=user, action="api_token.issue", obj=token, data={"kind": token.kind})
    return IssuedToken(token=token, secret=secret)


def issue_device_token(
    *, register: Register, by: Any, name: str = "", expires_at: dt.datetime | None = None
) -> IssuedToken:
    """A token for one register's terminal, acting as the manager `by`. It works until it
    is revoked, or until `expires_at` when the manager gives one (which must lie ahead)."""
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            raise ValidationError({"expires_at": [_("Give the time with its UTC offset.")]})
        if expires_at <= timezone.now():
            raise ValidationError({"expires_at": [_("Give a moment in the future.")]})
    secret = _new_secret(ApiToken.Kind.DEVICE)
    token = ApiToken.objects.create(
        kind=ApiToken.Kind.DEVICE,
        user=by,
        register=register,
        name=name,
        prefix=secret[:8],
        digest=token_digest(secret),
        expires_at=expires_at,
    )
    write_audit(
        user=by,
        action="api_token.issue",
        obj=token,
        data={
            "kind": token.kind,
            "register": register.pk,
            "name": name,
            **({"expires_at": expires_at.isoformat()} if expires_at else {}),
        },
    )
    return IssuedToken(token=token, secret=secret)


def reissue_secret(token: ApiToken) -> str:
    """A new secret for an existing token; the old one stops working.

    An idempotent repeat of a request that issued a token answers with this: the first
    secret was never stored (it may be what got lost on the way), and a second token
    would be a second effect.
    """
    secret = _new_secret(token.kind)
    ApiToken.objects.filter(pk=token.pk).update(prefix=secret[:8], digest=token_digest(secret))
    write_audit(user=token.user, action="api_token.reissue", obj=token)
    return secret


def revoke_token(*, token: ApiToken, by: Any, reason: str = ApiToken.RevokeReason.REVOKED) -> bool:
    """Revoke a token for good; revoking twice changes nothing. True when it was revoked
    now."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(),
        revoked_by=by if getattr(by, "pk", None) else None,
        revoke_reason=reason,
    )
    if updated:
        write_audit(
            user=by if getattr(by, "pk", None) else None,
            action="api_token.revoke",
            obj=token,
            data={
                "kind": token.kind,
                "register": token.register_id,
                "name": token.name,
                "reason": str(reason),
            },
        )
    return bool(updated)


def revoke_user_tokens(*, user: Any, reason: str) -> int:
    """Revoke every user token of `user` (their password changed, or they were
    deactivated); the number revoked. Device tokens the user issued are the registers'
    credentials: a password change leaves them alone, a deactivation stops them (they act
    as their manager, who must be active) and revokes them too."""
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if reason != ApiToken.RevokeReason.DEACTIVATED:
        tokens = tokens.filter(kind=ApiToken.Kind.USER)
    return sum(revoke_token(token=token, by=None, reason=reason) for token in tokens)


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` for user and device tokens."""

    def authenticate(self, request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(_("Give the header as: Authorization: Token <key>."))
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            _refuse(request, _("Invalid token."))
        token = _token_by_digest(token_digest(secret))
        if token is None or token.is_revoked:
            _refuse(request, _("Invalid or revoked token."))
        if token.is_expired():
            _refuse(
                request,
                _("This token has expired; ask for a new one."),
                code="token_expired",
            )
        if not token.user.is_active:
            _refuse(request, _("The token's user is inactive."))
        _touch(token)
        if token.register_id is not None:
            remember_role(request, token.user, token.register.location_id, token.register_role)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return KEYWORD


def _refuse(request, message: str, code: str = "authentication_failed") -> NoReturn:
    """401 for a wrong, revoked or expired token; 429 once one client address has sent
    too many of them (settings.API_BAD_TOKEN_RATE), so tokens cannot be guessed at speed."""
    from cashdrawer.throttling import BadTokenThrottle

    throttle = BadTokenThrottle()
    if not throttle.allow_request(request, None):
        raise Throttled(wait=throttle.wait())
    raise AuthenticationFailed(message, code=code)


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional, so of many concurrent requests only one writes, and a slow request
    # never moves the time backwards.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now


def credential_identity(request) -> str | None:
    """Who sent a request, for the scope of its idempotency keys: the register of a device
    token (every terminal of the register, whichever token it has now), else the user
    behind the credential (a user token, a new token of the same user, or the browser's
    session all share the user's keys)."""
    if isinstance(request.auth, ApiToken) and request.auth.is_device_token:
        return f"register:{request.auth.register_id}"
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return None


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cashdrawer.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Authorization: Token <key>`. A user token (POST /api/v1/auth/token/) acts "
                "with its user's permissions; a device token (POST "
                "/api/v1/registers/{id}/device-tokens/) acts only on its own register."
            ),
        }
