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
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from cashdrawer.models import ApiToken, Register
from cashdrawer.services import write_audit

KEYWORD = "Token"
PREFIXES = {ApiToken.Kind.USER: "cdu_", ApiToken.Kind.DEVICE: "cdd_"}
# last_used_at is written at most once a minute per token: a busy terminal would otherwise
# write (and lock) its token row on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


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
    )
    write_audit(user=user, action="api_token.issue", obj=token, data={"kind": token.kind})
    return IssuedToken(token=token, secret=secret)


def issue_device_token(*, register: Register, by: Any, name: str = "") -> IssuedToken:
    secret = _new_secret(ApiToken.Kind.DEVICE)
    token = ApiToken.objects.create(
        kind=ApiToken.Kind.DEVICE,
        user=by,
        register=register,
        name=name,
        prefix=secret[:8],
        digest=token_digest(secret),
    )
    write_audit(
        user=by,
        action="api_token.issue",
        obj=token,
        data={"kind": token.kind, "register": register.pk, "name": name},
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


def revoke_token(*, token: ApiToken, by: Any) -> None:
    """Revoke a token for good; revoking twice changes nothing."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by if getattr(by, "pk", None) else None
    )
    if updated:
        write_audit(
            user=by,
            action="api_token.revoke",
            obj=token,
            data={"kind": token.kind, "register": token.register_id, "name": token.name},
        )


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
            raise AuthenticationFailed(_("Invalid token.")) from None
        token = (
            ApiToken.objects.select_related("user", "register__location")
            .filter(digest=token_digest(secret))
            .first()
        )
        if token is None or token.is_revoked:
            raise AuthenticationFailed(_("Invalid or revoked token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("The token's user is inactive."))
        _touch(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return KEYWORD


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
    """Who sent a request, for idempotency keys: the token, else the logged-in user."""
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
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
