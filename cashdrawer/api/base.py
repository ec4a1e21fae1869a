"""What every API endpoint shares: JSON parsing, money, times, pagination, error bodies.

The fields here check the shape of input exactly as the OpenAPI schema states it
(cashdrawer/api/schema.py writes their schemas), so a client generated from the schema
sends nothing the server refuses for its shape; what depends on a record (a location's
currency, ceiling and payment methods, a register's rules) is the services' to check.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination

from cashdrawer.filters import MAX_ID
from cashdrawer.money import (
    CEILING_MAX,
    DECIMAL_PLACES,
    FIGURE_MAX_DIGITS,
    format_amount,
    has_more_decimals,
    not_a_number,
    quantize,
)

# --- JSON in ---------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _exact_number(text: str) -> Decimal | str:
    """A JSON number with a fraction, as an exact Decimal. One written with an exponent
    ("1e3", "1e1000000") stays the text it was: no amount is written that way, so the
    field's own check refuses it as not a number, naming the field (and an exponent of a
    million digits is never expanded)."""
    if "e" in text or "E" in text:
        return text
    return Decimal(text)


class JSONParser(parsers.JSONParser):
    """JSON with its numbers as exact Decimals, never floats: `"amount": 45.5` arrives as
    Decimal("45.5"), so the money checks see exactly what the client sent. NaN and
    Infinity are refused; so is nesting too deep to parse (RecursionError). A number with
    an exponent arrives as its text (see _exact_number)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json.loads(text, parse_float=_exact_number, parse_constant=_no_constants)
        except (ValueError, RecursionError) as error:
            raise ParseError(_("JSON parse error: %(error)s") % {"error": error}) from None


# --- lists -----------------------------------------------------------------------------


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M`: whole numbers from 1 (else 400, as a bad filter is); a page
    past the last is 404; a page_size above 500 gives 500 rows; an empty one is as if not
    given, as an empty filter is. (DRF's own pagination read `page_size=null` or `0` as 50
    and `page=last` as the last page, none of which an exact schema can say.)"""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()

    def get_page_size(self, request) -> int:
        text = request.query_params.get(self.page_size_query_param)
        if not text:
            return self.page_size
        return min(_whole_number(self.page_size_query_param, text), self.max_page_size)

    def get_page_number(self, request, paginator) -> int:
        text = request.query_params.get(self.page_query_param)
        return _whole_number(self.page_query_param, text) if text else 1

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. A page past the last one answers 404.",
                "schema": {"type": "integer", "minimum": 1},
                "allowEmptyValue": True,
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page: {self.page_size} unless given, at most "
                f"{self.max_page_size} (a larger number gives {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
                "allowEmptyValue": True,
            },
        ]


_WHOLE_NUMBER = re.compile(r"[0-9]+")
# Beyond any page there is: read longer numbers as this, never as a million-digit int.
_HUGE = 10**18


def _whole_number(name: str, text: str) -> int:
    number = (int(text) if len(text) <= 18 else _HUGE) if _WHOLE_NUMBER.fullmatch(text) else 0
    if number < 1:
        raise ValidationError({name: [gettext_lazy("Enter a whole number from 1.")]})
    return number


# --- money -----------------------------------------------------------------------------


class MoneySerializer(serializers.Serializer):
    """A serializer whose MoneyFields are written in `currency_of(instance)`.

    Nested serializers without a currency of their own use their parent's.
    """

    def currency_of(self, instance: Any) -> str | None:
        return None

    def to_representation(self, instance: Any) -> Any:
        self._currency = self.currency_of(instance)
        return super().to_representation(instance)


class MoneyModelSerializer(MoneySerializer, serializers.ModelSerializer):
    pass


class MoneyField(serializers.DecimalField):
    """Money out as a string with exactly the currency's minor units ("150.00", "1500").

    In (only where a model field is written directly, e.g. a register's default float) it
    takes what AmountInput takes, at most `limit`; the currency's own rule (its decimals)
    and the location's ceiling are the model's clean().
    """

    def __init__(self, *, limit: Decimal = CEILING_MAX, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", FIGURE_MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        self.limit = limit
        super().__init__(coerce_to_string=True, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        value = Decimal(check_amount(self, data))
        if value < 0:
            self.fail("negative")
        if has_more_decimals(value, DECIMAL_PLACES):
            self.fail("decimals")
        if value > self.limit:
            self.fail("too_large")
        return quantize(value)

    def fail(self, key: str, **kwargs: Any):
        if key in AMOUNT_ERRORS:
            raise ValidationError(AMOUNT_ERRORS[key](self, **kwargs), code=key)
        return super().fail(key, **kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format_amount(Decimal(value), self._currency())

    def _currency(self) -> str:
        node = self.parent
        while node is not None:
            currency = getattr(node, "_currency", None)
            if currency:
                return currency
            node = node.parent
        raise RuntimeError(f"{self.field_name}: no serializer above it knows the currency")


# An amount as text: ASCII digits with at most one decimal point, nothing else (no sign,
# exponent, underscore, space or other digits); at most 40 characters, as money.py reads.
AMOUNT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
AMOUNT_TEXT_MAX = 40

AMOUNT_ERRORS = {
    "invalid": lambda field, **kwargs: _(
        'Enter the amount as a decimal string such as "150.00" or a number.'
    ),
    "not_a_number": lambda field, value="", **kwargs: not_a_number(value),
    "negative": lambda field, **kwargs: _("The amount cannot be negative."),
    "decimals": lambda field, **kwargs: gettext_lazy("Amounts have at most 2 decimals."),
    "too_large": lambda field, **kwargs: (
        gettext_lazy("The amount is above the largest ceiling a store may have, %(limit)s.")
        % {"limit": field.limit}
    ),
}


def check_amount(field: serializers.Field, data: Any) -> str | int | Decimal:
    """The shape every amount input shares: a JSON number, or a string of the form in
    AMOUNT_TEXT; a negative one is refused as such. The bounds are the caller's."""
    if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
        field.fail("invalid")
    if isinstance(data, str):
        if data.startswith("-"):
            field.fail("negative")
        if len(data) > AMOUNT_TEXT_MAX or not AMOUNT_TEXT.fullmatch(data):
            field.fail("not_a_number", value=data)
    return data


class AmountInput(serializers.Field):
    """An amount as the client sent it: a string or a number of the shape check_amount
    takes. The service parses it (decimals of the currency, zero, the location's ceiling)
    and names the field in its error. The schema states the same shape and the widest
    bounds: at most `limit` (no location's ceiling is higher), and above zero when
    `positive`."""

    def __init__(self, *, limit: Decimal = CEILING_MAX, positive: bool = False, **kwargs):
        self.limit = limit
        self.positive = positive
        super().__init__(**kwargs)

    def fail(self, key: str, **kwargs: Any):
        if key in AMOUNT_ERRORS:
            raise ValidationError(AMOUNT_ERRORS[key](self, **kwargs), code=key)
        return super().fail(key, **kwargs)  # "required", "null"

    def to_internal_value(self, data: Any) -> Any:
        return check_amount(self, data)

    def to_representation(self, value: Any) -> str:
        return str(value)


class CountInput(serializers.Field):
    """A denomination count: a list of lines such as {"value": "50.00", "quantity": 3},
    checked by the service (which knows the currency's denominations). `line_serializer`
    states a line's shape in the schema."""

    default_error_messages = {
        "invalid": _('Give a list of lines such as [{{"value": "50.00", "quantity": 3}}].')
    }

    def __init__(self, *, line_serializer: type[serializers.Serializer], **kwargs: Any) -> None:
        self.line_serializer = line_serializer
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list) or not all(isinstance(line, dict) for line in data):
            self.fail("invalid")
        return data


class CountLineSerializer(MoneySerializer):
    value = MoneyField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)


# --- request bodies --------------------------------------------------------------------


class InputSerializer(serializers.Serializer):
    """A request body. Its schema component is named once: `OpenSessionRequestSerializer`
    is `OpenSessionRequest` (drf-spectacular would add a second "Request").

    `either` names two fields of which a request gives at most one (not null), e.g. a
    count as a total or by denominations; with `either_required`, exactly one. The schema
    states it with `not`, which a generated client ignores and a validator checks.
    """

    either: tuple[str, str] | None = None
    either_required = False


# --- ids -----------------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """An object's id: a JSON integer only. "1" (a string) and 1.0 (a fraction) are
    refused, so a client learns its mistake instead of having it guessed."""

    default_error_messages = {"invalid": _("Give the id as a JSON integer, e.g. 7.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object given by its id, which must be a JSON integer (see IdField)."""

    default_error_messages = {"incorrect_type": _("Give the id as a JSON integer, e.g. 7.")}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# --- text ----------------------------------------------------------------------------


class TextField(serializers.CharField):
    """A JSON string of at most `max_length` characters as sent (a number is not silently
    turned into text; NUL and lone surrogates are refused, as by any DRF CharField).

    The services trim it and check what is left; a `required_text` must hold more than
    whitespace (the schema says so with a pattern). A blank one reaches the service, whose
    message names the field as every face words it.
    """

    def __init__(
        self, *, max_length: int | None, required_text: bool = False, **kwargs: Any
    ) -> None:
        kwargs.setdefault("trim_whitespace", False)  # the services trim and check
        kwargs.setdefault("allow_blank", True)
        self.required_text = required_text
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        # The length as sent, which the schema's maxLength counts, not after trimming.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


# --- times -----------------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601. A time without its UTC offset is passed on as it is, so the service
    refuses it with its own message instead of guessing a time zone."""

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        if timezone.is_naive(value):
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            self.fail("overflow")


# --- staff -----------------------------------------------------------------------------


class StaffSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


class ActorSerializer(serializers.Serializer):
    """Who did it: a person (kind "user", the user's id) or a terminal (kind "device", the
    id of its device token, named as the manager named the token)."""

    kind = serializers.ChoiceField(choices=[("user", "user"), ("device", "device")])
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


# --- writing a model through its clean() -----------------------------------------------


def save_cleaned(instance: models.Model) -> None:
    """Validate with the model's own rules (full_clean, 400 on failure), then save.

    A unique row written by someone else between the check and the save is reported as
    the same 400 the check would have given.
    """
    try:
        with transaction.atomic():
            if instance.pk:
                # Lock, then check: a register's clean() reads whether it has an open
                # session, and open_session() locks this same row before opening one, so
                # a role change and an opening cannot both pass.
                type(instance).objects.select_for_update().filter(pk=instance.pk).first()
            instance.full_clean()
            instance.save()
    except IntegrityError:
        raise ValidationError(
            {"non_field_errors": [_("This conflicts with a record saved at the same moment.")]}
        ) from None


# --- unknown paths -------------------------------------------------------------------


@csrf_exempt  # it changes nothing; a CSRF refusal would be an HTML 403 instead
def not_found(request: HttpRequest) -> JsonResponse:
    """Any path under /api/ that names no endpoint: a JSON 404 in the API's error shape."""
    detail = _("No endpoint at this path.")
    if not request.path.endswith("/") and _resolves(request.path + "/"):
        detail = _("No endpoint at this path; the path ends with a slash: %(path)s/") % {
            "path": request.path
        }
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)


def _resolves(path: str) -> bool:
    match = resolve_or_none(path)
    return match is not None and match.func is not not_found


def resolve_or_none(path: str):
    try:
        return resolve(path)
    except Resolver404:
        return None


# --- documented errors -----------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """401, 403, 404, 409, 415, 422, 429, 503: a message for people and a code for
    programs."""

    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """400: {"field": ["message", ...]}; "non_field_errors" when no one field is at fault."""


class ValidationErrorScheme(OpenApiSerializerExtension):
    target_class = "cashdrawer.api.base.ValidationErrorSerializer"

    def map_serializer(self, auto_schema, direction) -> dict:
        return {
            "type": "object",
            "description": 'Invalid input: {"field": ["message"]}.',
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }


_ERROR_DESCRIPTIONS = {
    400: "Invalid input.",
    401: "No credentials, or bad ones (`authentication_failed`, `not_authenticated`), or "
    "a revoked or expired token.",
    403: "Not allowed (role, or a device token outside its register; `permission_denied`), "
    "or a browser session without its CSRF token.",
    404: "Not found, or not visible to these credentials (`not_found`).",
    409: "A rule of the domain forbids it now (`code` says which), or "
    "`idempotency_key_in_flight` (safe to retry with the same key).",
    415: "`unsupported_media_type`: send the body as `Content-Type: application/json`.",
    422: "`idempotency_key_reused`: this key was used for another request.",
    429: "`throttled`: too many requests — POST /api/v1/auth/token/ more than 10 times a "
    "minute from one address, more wrong or expired tokens from one address than the rate "
    "allows, or more than the rate of one token — or `locked_out`: logging in is refused "
    "for 15 minutes after 10 failed logins for the username or from the address. Retry "
    "after `Retry-After` seconds; nothing was changed.",
    503: "`database_unavailable`: the database cannot be reached or asks for a retry. Nothing "
    "was changed: retry after `Retry-After` seconds (a POST with the same Idempotency-Key "
    "lands once).",
}

# Every operation can meet a database outage and a throttle (cashdrawer/throttling.py),
# so every one documents 429 and 503, each with its Retry-After header
# (cashdrawer/api/schema.py).
ALWAYS = (429, 503)


def errors(*codes: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """Documented error responses for extend_schema(responses=...), 503 included. A
    keyword `e404="..."` replaces the generic description of one status."""
    return {
        code: OpenApiResponse(
            response=ValidationErrorSerializer if code == 400 else ErrorSerializer,
            description=descriptions.get(f"e{code}", _ERROR_DESCRIPTIONS[code]),
        )
        for code in sorted({*codes, *ALWAYS})
    }


# The errors each kind of operation can answer (besides 429 and 503).
QUERY_ERRORS = (400, 401, 403, 404)  # a bad filter or page; a page past the last
READ_ERRORS = (401, 403, 404)  # one object
CREATE_ERRORS = (400, 401, 403, 409, 415, 422)  # a POST with an Idempotency-Key
ACTION_ERRORS = (*CREATE_ERRORS, 404)  # ... on an object of a path or body
UPDATE_ERRORS = (400, 401, 403, 404, 415)  # a PATCH
