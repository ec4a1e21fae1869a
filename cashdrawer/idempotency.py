"""Idempotency-Key on POST requests (API.md "Idempotency").

A POST with an `Idempotency-Key` runs in one database transaction that begins by
inserting an IdempotencyRecord for (scope, key), goes on with the request's effect, and
stores the response on the record before committing. The scope is the register of a
device token, else the user behind the credential: a new token of the same user replays
what the old one got; another user's same key is another request. So:

- a repeat after the commit finds the record (unique violation) and gets the stored
  response again, with the header `Idempotent-Replayed: true`;
- a repeat while the first is in flight runs into the first one's uncommitted row in the
  unique index, and PostgreSQL makes its INSERT wait for the first transaction to end
  (at most WAIT_FOR_FIRST; then it answers 409 `idempotency_key_in_flight`, safe to
  retry). When the first commits, the repeat replays it; when it rolls back, the repeat
  goes ahead as if it were the first. There is never a second effect, across processes
  and restarts, because the database decides;
- the same key with another body or path answers 422 `idempotency_key_reused`.

Only a response that took effect (2xx) is kept. A refused request (4xx: invalid input,
a domain rule such as `main_session_not_open`) changed nothing and its record is rolled
back with it, so a terminal that keeps a refused sale and sends it again later with the
same key gets it recorded once the rule allows it, instead of the old refusal forever.

Records are kept at least 30 days; `manage.py prune_idempotency_keys` deletes older ones.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from cashdrawer import rows
from cashdrawer.authentication import credential_identity
from cashdrawer.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"
_KEY_RE = re.compile(KEY_PATTERN)
# How long a repeat waits for the first request with its key before answering 409.
WAIT_FOR_FIRST = "5s"
# PostgreSQL's SQLSTATE for lock_timeout.
LOCK_NOT_AVAILABLE = "55P03"
KEEP_DAYS = 30
_SET_WAIT = f"SET LOCAL lock_timeout = '{WAIT_FOR_FIRST}'"
_RESET_WAIT = "SET LOCAL lock_timeout TO DEFAULT"
# Double quotes name a table or column on PostgreSQL and SQLite alike.
_TABLE = f'"{IdempotencyRecord._meta.db_table}"'
_COLUMNS = '"identity", "key", "fingerprint", "status_code", "response_body", "created_at"'
_CONFLICT = '"identity", "key"'

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type={"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1-255 printable ASCII characters, scoped to the user (or, for a device token, "
        "the register). A repeat with the same key, body and path answers the first "
        "response again and changes nothing, whichever token of the user (or register) "
        "sends it; another body or path is 422. Keys are kept at least 30 days."
    ),
)
REPLAYED_PARAMETER = OpenApiParameter(
    name=REPLAYED_HEADER,
    type={"type": "string", "enum": ["true"]},
    location=OpenApiParameter.HEADER,
    # Only an answer that took effect is stored, so only a 2xx is ever replayed.
    response=[200, 201],
    description="`true` when this is the stored response of an earlier request with the key.",
)


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used for a different request."


class IdempotencyKeyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_flight"
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry in a moment."
    )


class _Refused(Exception):
    """Carries a non-2xx response out of the transaction, which then rolls back."""

    def __init__(self, response: Response) -> None:
        self.response = response


def idempotency_key(request) -> str | None:
    """The request's key, checked; None when the header is absent."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY_RE.fullmatch(key):
        raise ValidationError({HEADER: [_("Use 1 to 255 printable ASCII characters.")]})
    return key


def fingerprint(request, payload: Any) -> str:
    """Method, path and body; the body as canonical JSON, so the order of keys or the
    spacing a client happens to serialise with does not matter, but every value does."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


Replay = Callable[[Any, Any, Any], Any]  # (view, request, stored data) -> data to answer


def idempotent(handler: Callable | None = None, *, replay: Replay | None = None):
    """Decorate an APIView's `post` so it honours the Idempotency-Key header.

    Runs after authentication and permission checks (DRF's `initial`), so a 401 or 403
    is never stored. `replay` may rewrite the stored data for an answer to a repeat (the
    token endpoints: a secret is never stored, a repeat gets a new one). A view may define
    `idempotency_identity(request)` (who is asking, when that is not the credentials:
    the login), `idempotency_payload(request)` (what of the body is compared: not a
    password) and `idempotency_store(data)` (what of the answer is kept: not a secret).
    """

    def decorate(post: Callable) -> Callable:
        @functools.wraps(post)
        def wrapper(view, request, *args, **kwargs):
            key = idempotency_key(request)
            if key is None:
                # One transaction for the effect and the answer read back after it: if the
                # database goes away in between, the 503 then means "nothing happened",
                # as it does with a key.
                with transaction.atomic():
                    return post(view, request, *args, **kwargs)
            identity = (
                view.idempotency_identity(request)
                if hasattr(view, "idempotency_identity")
                else credential_identity(request)
            )
            if identity is None:
                return post(view, request, *args, **kwargs)
            payload = (
                view.idempotency_payload(request)
                if hasattr(view, "idempotency_payload")
                else request.data
            )
            digest = fingerprint(request, payload)
            try:
                with transaction.atomic():
                    record = _claim(identity, key, digest)
                    if record is None:
                        response = post(view, request, *args, **kwargs)
                        if not 200 <= response.status_code < 300:
                            raise _Refused(response)
                        stored = getattr(view, "idempotency_store", None)
                        _store(identity, key, response, stored(response.data) if stored else None)
                        return response
            except _Refused as refused:
                return refused.response
            # Outside the transaction: the first request's record is committed.
            if record.fingerprint != digest:
                raise IdempotencyKeyReused()
            data = json.loads(record.response_body)
            if replay is not None:
                data = replay(view, request, data)
            return Response(data, status=record.status_code, headers={REPLAYED_HEADER: "true"})

        return wrapper

    return decorate(handler) if handler is not None else decorate


def _claim(identity: str, key: str, digest: str) -> IdempotencyRecord | None:
    """Insert the record for (identity, key); None when it is ours, else the existing one.

    The INSERT of a key whose first request is still in flight waits on that request's
    uncommitted index entry (PostgreSQL checks a unique index against in-progress
    transactions; ON CONFLICT waits too), at most WAIT_FOR_FIRST. On SQLite,
    transactions run one at a time, so the first one has always ended.
    """
    insert = (
        f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, 0, '', %s) "
        f"ON CONFLICT ({_CONFLICT}) DO NOTHING RETURNING 1"
    )
    params = [identity, key, digest, connection.ops.adapt_datetimefield_value(timezone.now())]
    with connection.cursor() as cursor:
        try:
            if connection.vendor != "postgresql":
                cursor.execute(insert, params)
            elif _one_round_trip():
                # The wait bound is set for this INSERT only, and the three statements go
                # to the server in one message: one round trip instead of three on every
                # POST with a key. An error in the INSERT skips the reset, but then the
                # transaction rolls back, and SET LOCAL with it.
                cursor.execute(f"{_SET_WAIT}; {insert}; {_RESET_WAIT}", params)
                cursor.nextset()  # from the SET's result to the INSERT's
            else:
                cursor.execute(_SET_WAIT)
                cursor.execute(insert, params)
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise IdempotencyKeyInFlight() from None
            raise
        inserted = cursor.fetchone() is not None
        if connection.vendor == "postgresql" and not _one_round_trip():
            cursor.execute(_RESET_WAIT)
    if inserted:
        return None
    # The first request with this key has committed (or we would still be waiting).
    return IdempotencyRecord.objects.filter(identity=identity, key=key).first() or _gone()


def _one_round_trip() -> bool:
    return rows.one_round_trip(connection)


def _gone() -> IdempotencyRecord:
    # The record was pruned between our INSERT and our SELECT (it was over 30 days old).
    raise IdempotencyKeyInFlight()


def _store(identity: str, key: str, response: Response, data: Any = None) -> None:
    body = JSONRenderer().render(response.data if data is None else data).decode()
    # Written by hand like _claim's INSERT: it runs on every POST with a key.
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {_TABLE} SET "status_code" = %s, "response_body" = %s'
            ' WHERE "identity" = %s AND "key" = %s',
            [response.status_code, body or "null", identity, key],
        )


def prune(*, days: int = KEEP_DAYS) -> int:
    """Delete the records older than `days` days; the number deleted."""
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
