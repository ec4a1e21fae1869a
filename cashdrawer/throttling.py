"""API request rates, with DRF's throttles (settings API_LOGIN_RATE, API_BAD_TOKEN_RATE,
API_TOKEN_RATE; docs/SECURITY.md).

- `LoginRateThrottle`: POST /api/v1/auth/token/ from one client address, whatever the
  outcome: a password guesser gets 10 tries a minute, then 429 with Retry-After. Counted
  in the shared database cache, so every server process sees the same count.
- `BadTokenThrottle`: requests with a wrong, revoked or expired token from one address.
  Past the rate they are answered 429 instead of 401; right tokens from that address
  still work, so one terminal with a revoked token cannot lock its store out.
- `TokenRateThrottle`: every request made with one token. Generous: a terminal that
  waits for each answer cannot reach it; it stops a runaway loop or a leaked token from
  flooding the server. Counted in each server process's memory (no database round trip
  on every sale), so with N processes a token can make at most N times the rate.

The client address is the one the audit trail records (behind a trusted proxy, the
client's own), not DRF's reading of X-Forwarded-For.
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from cashdrawer.audit import client_address
from cashdrawer.models import ApiToken


class _AddressThrottle(SimpleRateThrottle):
    """Counted per client address in the shared cache, so every worker sees one count."""

    @property
    def cache(self):  # resolved per use, so tests may swap the cache settings
        return caches["shared"]

    def get_ident(self, request) -> str:
        return client_address(request) or "unknown"

    def get_cache_key(self, request, view) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(_AddressThrottle):
    scope = "login"


class BadTokenThrottle(_AddressThrottle):
    scope = "bad_token"


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    @property
    def cache(self):
        return caches["default"]

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None  # the browser's session: CSRF and the login throttle guard it
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
