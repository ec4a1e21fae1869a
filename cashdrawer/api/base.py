"""What every API endpoint shares: JSON parsing, money, times, pagination, error bodies."""

from __future__ import annotations

import codecs
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.pagination import PageNumberPagination

from cashdrawer.filters import MAX_ID
from cashdrawer.money import DECIMAL_PLACES, FIGURE_MAX_DIGITS, format_amount

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
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


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
    takes a decimal string or a JSON number, two decimals at most, as a DecimalField does;
    the currency's own rule is the model's clean().
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", FIGURE_MAX_DIGITS)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(coerce_to_string=True, **kwargs)

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


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "150.00"},
            {"type": "number", "example": 150.0},
        ],
        "description": 'An amount: a decimal string such as "150.00" (or a JSON number), '
        "with at most the currency's minor units.",
    }
)
class AmountInput(serializers.Field):
    """An amount as the client sent it: a string or a number. Only the type is checked
    here; the service parses it (decimals of the currency, sign, size) and names the field
    in its error."""

    default_error_messages = {
        "invalid": _('Enter the amount as a decimal string such as "150.00" or a number.')
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> str:
        return str(value)


class CountLineInputSerializer(serializers.Serializer):
    """For the schema only: the service checks each line (known denomination, quantity)."""

    value = AmountInput()
    quantity = serializers.IntegerField(min_value=0)


@extend_schema_field(CountLineInputSerializer(many=True))
class CountInput(serializers.Field):
    """A denomination count: [{"value": "50.00", "quantity": 3}, ...], checked by the
    service (which knows the currency's denominations)."""

    default_error_messages = {
        "invalid": _('Give a list of lines such as [{{"value": "50.00", "quantity": 3}}].')
    }

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, list):
            self.fail("invalid")
        return data


class CountLineSerializer(MoneySerializer):
    value = MoneyField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)


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
    """A JSON string; a number is not silently turned into text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)  # the services trim and check
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
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
    """401, 403, 404, 409, 422: a message for people and a code for programs."""

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
    401: "No credentials, or bad ones.",
    403: "Not allowed (role, or a device token outside its register).",
    404: "Not found, or not visible to these credentials.",
    409: "A rule of the domain forbids it now (`code` says which), or `idempotency_key_in_flight`.",
    422: "`idempotency_key_reused`: this key was used for another request.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error responses for extend_schema(responses=...)."""
    return {
        code: OpenApiResponse(
            response=ValidationErrorSerializer if code == 400 else ErrorSerializer,
            description=_ERROR_DESCRIPTIONS[code],
        )
        for code in codes
    }


READ_ERRORS = (400, 401, 403, 404)
WRITE_ERRORS = (400, 401, 403, 404, 409, 422)
