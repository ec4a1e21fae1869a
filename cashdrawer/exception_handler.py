"""The API's one exception handler: every error body has one of two shapes.

- 400: `{"field": ["message", ...]}` — invalid input, whatever raised it (a serializer,
  a service's InvalidInput, a model's full_clean, a malformed JSON body);
- every other error: `{"detail": "human-readable message", "code": "machine_code"}` —
  401, 403, 404, 405, 409 (a DomainError, or `idempotency_key_in_flight`; a
  `discrepancy_needs_confirmation` adds its figures as strings), 415, 422
  (`idempotency_key_reused`), 503 (`database_unavailable`, with Retry-After: see
  cashdrawer/outage.py).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cashdrawer.outage import api_outage_response, is_database_outage
from sessions_app.exceptions import DiscrepancyNeedsConfirmation, DomainError, InvalidInput

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


def field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten any validation detail to {field: [message]}; nested fields become "a.0.b"."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, inner in detail.items():
            name = NON_FIELD if name == "__all__" else str(name)
            for key, messages in field_errors(
                inner, f"{prefix}.{name}" if prefix else name
            ).items():
                flat.setdefault(key, []).extend(messages)
    elif isinstance(detail, (list, tuple)):
        for index, inner in enumerate(detail):
            if isinstance(inner, (dict, list, tuple)):
                key_prefix = f"{prefix}.{index}" if prefix else str(index)
                for key, messages in field_errors(inner, key_prefix).items():
                    flat.setdefault(key, []).extend(messages)
            else:
                flat.setdefault(prefix or NON_FIELD, []).append(str(inner))
    else:
        flat.setdefault(prefix or NON_FIELD, []).append(str(detail))
    return flat


def _problem(detail: str, code: str, status_code: int, headers: dict | None = None) -> Response:
    return Response({"detail": str(detail), "code": code}, status=status_code, headers=headers)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if is_database_outage(exc):
        return api_outage_response(exc, context.get("request"))
    if isinstance(exc, InvalidInput):
        return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DiscrepancyNeedsConfirmation):
        # The figures beside the code, so a terminal can show what to confirm.
        response = _problem(exc.message, exc.code, status.HTTP_409_CONFLICT)
        response.data.update(exc.figures())
        return response
    if isinstance(exc, DomainError):
        return _problem(exc.message, exc.code, status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        return Response(field_errors(detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ValidationError):
        return Response(field_errors(exc.detail), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response({NON_FIELD: [str(exc.detail)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, SuspiciousOperation):  # e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response({NON_FIELD: [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DataError):
        # A value the database cannot hold that no check caught first: a missing check,
        # logged as such, but still the client's bad input, not a server error.
        logger.warning("DataError reached the API exception handler: %s", exc)
        return Response(
            {NON_FIELD: ["A value is out of range."]}, status=status.HTTP_400_BAD_REQUEST
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, dict) and "detail" in detail:
            detail = detail["detail"]
        code = exc.get_codes()
        if isinstance(code, dict):
            code = code.get("detail", exc.default_code)
        if isinstance(code, list):
            code = code[0] if code else exc.default_code
        response.data = {"detail": str(detail), "code": str(code)}
    else:  # Http404, PermissionDenied turned into responses by DRF
        code = {404: "not_found", 403: "permission_denied"}.get(response.status_code, "error")
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"detail": str(detail), "code": code}
    return response
