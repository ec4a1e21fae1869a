"""What the OpenAPI schema says beyond what drf-spectacular infers, so that it states exactly
what the server accepts and answers, and a client generated from it can be trusted.

- Amounts in requests: a decimal string of a fixed form (a pattern) or a JSON number, at
  most the widest bound any location may have; the location's own ceiling and currency
  (JPY has no decimals) are per record, so they are in the descriptions.
- Texts: their length as sent, and for a required one a character that is not
  whitespace. Ids: JSON integers from 1.
- "A total or a count, not both": `not`, which a generated client ignores and a
  validator checks.
- Every 401 has `WWW-Authenticate`, every 429 and 503 `Retry-After`; `Idempotent-Replayed` is on
  the answers that a repeat replays (2xx) only.
- A request body is one component named once (`CloseRequest`, not `CloseRequestRequest`).

Settings: REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] names AutoSchema below, which also loads
the extensions of this module.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.drainage import has_override
from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import is_patched_serializer
from drf_spectacular.utils import OpenApiParameter

from cashdrawer.api.base import AMOUNT_TEXT_MAX, DECIMAL_PLACES, TextField
from cashdrawer.money import CEILING_MAX
from cashdrawer.outage import RETRY_AFTER_CONFLICT

# --- headers every operation shares ------------------------------------------------------

RETRY_AFTER = OpenApiParameter(
    name="Retry-After",
    type={"type": "integer", "minimum": RETRY_AFTER_CONFLICT},
    location=OpenApiParameter.HEADER,
    response=[429, 503],
    required=True,
    description="Seconds to wait before retrying.",
)
WWW_AUTHENTICATE = OpenApiParameter(
    name="WWW-Authenticate",
    type={"type": "string", "enum": ["Token"]},
    location=OpenApiParameter.HEADER,
    response=[401],
    required=True,
    description="The scheme to authenticate with: `Authorization: Token <key>`.",
)


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self) -> list:
        return [*super().get_override_parameters(), RETRY_AFTER, WWW_AUTHENTICATE]

    def _map_basic_serializer(self, serializer, direction) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        # A component describes itself with its own docstring, not one of a base class
        # (MoneySerializer's, InputSerializer's), which speak of the code.
        if not has_override(serializer, "description") and not type(serializer).__doc__:
            schema.pop("description", None)
        return schema

    def _insert_field_validators(self, field, schema) -> None:
        # TextFieldScheme states a text's every bound, the empty text included; the
        # alternative "or an empty string" drf-spectacular adds would be wrong twice.
        if not isinstance(field, TextField):
            super()._insert_field_validators(field, schema)

    def _get_filter_parameters(self) -> list[dict[str, Any]]:
        # A list's filter given empty (`?location=`) filters nothing, as django-filter
        # reads a form; `allowEmptyValue` says so (a generated client never sends one).
        return [
            {**parameter, "allowEmptyValue": True} for parameter in super()._get_filter_parameters()
        ]


# --- amounts -------------------------------------------------------------------------------

_DECIMALS = rf"(?:\.[0-9]{{0,{DECIMAL_PLACES}}}0*)?"  # "1", "1.", "1.5", "1.50", "1.500"


def amount_pattern(limit: Decimal, *, positive: bool = False) -> str:
    """The decimal strings from 0 (or above it) to `limit` with at most two decimals, as
    a regular expression that ECMA, Python and Rust read alike. `limit` is 10^k (the
    largest ceiling) or 10^k - 0.01 (what a figure's column holds)."""
    digits = len(str(int(limit))) - 1 if limit == 10 ** (len(str(int(limit))) - 1) else None
    exactly = ""
    if digits is not None:  # 10^k itself, with zero decimals only
        exactly = rf"|0*1{'0' * digits}(?:\.0*)?"
    elif limit == Decimal(10 ** len(str(int(limit)))) - Decimal("0.01"):
        digits = len(str(int(limit)))
    else:
        raise ValueError(f"no pattern for the limit {limit}")
    if positive:
        whole = rf"0*[1-9][0-9]{{0,{digits - 1}}}{_DECIMALS}"
        fraction = r"0*\.(?:[1-9][0-9]?|0[1-9])0*"
    else:
        whole = rf"0*[0-9]{{1,{digits}}}{_DECIMALS}"
        fraction = r"\.[0-9]{1,2}0*"
    return rf"^(?:{whole}|{fraction}{exactly})$"


def amount_schema(
    limit: Decimal, *, positive: bool = False, signed: bool = False
) -> dict[str, Any]:
    ceiling = (
        "at most the location's `max_amount` (GET /locations/)"
        if limit == CEILING_MAX
        else f"at most {limit}"
    )
    if signed:
        return signed_amount_schema(limit, ceiling)
    return {
        "oneOf": [
            {
                "type": "string",
                "pattern": amount_pattern(limit, positive=positive),
                "maxLength": AMOUNT_TEXT_MAX,
                "example": "150.00",
            },
            {
                "type": "number",
                "minimum": Decimal("0.01") if positive else 0,
                "maximum": limit,
                "multipleOf": Decimal("0.01"),
                "example": 150.0,
            },
        ],
        "description": (
            'An amount: a decimal string such as "150.00" (digits and one point, nothing '
            "else) or a JSON number written without an exponent"
            f"{', more than 0' if positive else ''}, with at most the currency's minor "
            f"units (JPY: none), {ceiling}."
        ),
    }


def signed_amount_schema(limit: Decimal, ceiling: str) -> dict[str, Any]:
    """A correction: above or below zero ("-2.00"), never zero; its size as an amount's."""
    return {
        "oneOf": [
            {
                "type": "string",
                # An optional minus before what an amount above zero is.
                "pattern": "^-?" + amount_pattern(limit, positive=True)[1:],
                "maxLength": AMOUNT_TEXT_MAX,
                "example": "-2.00",
            },
            {
                "type": "number",
                "minimum": -limit,
                "maximum": limit,
                "multipleOf": Decimal("0.01"),
                "not": {"enum": [0]},
                "example": -2.0,
            },
        ],
        "description": (
            'A signed amount, not 0: a decimal string such as "-2.00" or "5" (an optional '
            "minus, digits and one point, nothing else) or a JSON number written without an "
            "exponent, with at most the currency's minor units (JPY: none), its size "
            f"{ceiling}."
        ),
    }


class AmountInputScheme(OpenApiSerializerFieldExtension):
    target_class = "cashdrawer.api.base.AmountInput"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        return amount_schema(
            self.target.limit,
            positive=self.target.positive,
            signed=getattr(self.target, "signed", False),
        )


class MoneyFieldScheme(OpenApiSerializerFieldExtension):
    """Out: the canonical string. In (a register's default float): an amount input."""

    target_class = "cashdrawer.api.base.MoneyField"

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        if direction == "request" and not self.target.read_only:
            return amount_schema(self.target.limit)
        return auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)


class CountInputScheme(OpenApiSerializerFieldExtension):
    target_class = "cashdrawer.api.base.CountInput"

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        line = auto_schema.resolve_serializer(self.target.line_serializer, direction)
        return {"type": "array", "items": line.ref}


# --- texts -----------------------------------------------------------------------------

# What str.strip() removes is Python's whitespace: \s, and the separators \x1c-\x1f,
# which Rust's and ECMA's \s leave out. A required text holds one other character.
_NOT_WHITESPACE = r"[^\s\u001c-\u001f\u0000]"


class TextFieldScheme(OpenApiSerializerFieldExtension):
    target_class = "cashdrawer.api.base.TextField"

    def map_serializer_field(self, auto_schema, direction) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if direction == "response":
            return schema
        if self.target.max_length is not None:
            schema["maxLength"] = self.target.max_length
        if self.target.required_text:
            schema["minLength"] = 1
            schema["pattern"] = rf"^[^\u0000]*{_NOT_WHITESPACE}[^\u0000]*$"
        else:
            schema["pattern"] = r"^[^\u0000]*$"
        return schema


# --- request bodies ------------------------------------------------------------------------


def _given(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a property when it is given and not null."""
    return {key: value for key, value in schema.items() if key not in ("nullable", "description")}


class InputSerializerScheme(OpenApiSerializerExtension):
    target_class = "cashdrawer.api.base.InputSerializer"
    match_subclasses = True

    def get_name(self, auto_schema, direction) -> str:
        target = self.target if isinstance(self.target, type) else type(self.target)
        # drf-spectacular adds "Request" to a request body's name once more.
        return target.__name__.removesuffix("Serializer").removesuffix("Request")

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if not schema.get("properties"):
            # A body of no fields (POST alerts/{id}/seen/): `{}`, or anything, which is
            # ignored as every body's unknown fields are. Said with additionalProperties,
            # since drf-spectacular drops a body schema without properties.
            schema["additionalProperties"] = {}
        if self.target.either is None:
            return schema
        properties = schema["properties"]

        def given(*names: str) -> dict[str, Any]:
            return {
                "required": list(names),
                "properties": {name: _given(properties[name]) for name in names},
            }

        first, second = self.target.either
        both = given(first, second)
        if self.target.either_required:
            neither = {"not": {"anyOf": [given(first), given(second)]}}
            schema["not"] = {"anyOf": [both, neither]}
        else:
            schema["not"] = both
        return schema


class RegisterSerializerScheme(OpenApiSerializerExtension):
    """A new register's rules that lie in its own fields (Register.clean): a sub-register
    names its main register and has no default float; no other register names one; a
    main register counts by denominations. A PATCH meets them together with the stored
    values, which a schema cannot know."""

    target_class = "cashdrawer.api.views.RegisterSerializer"

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction != "request" or is_patched_serializer(self.target, direction):
            return schema
        properties = schema["properties"]
        sub = {"required": ["role"], "properties": {"role": {"enum": ["sub"]}}}
        has_main = {
            "required": ["main_register"],
            "properties": {"main_register": _given(properties["main_register"])},
        }
        schema["not"] = {
            "anyOf": [
                {**sub, "not": has_main},
                {**has_main, "not": sub},
                {
                    "required": ["role", "default_float"],
                    "properties": {
                        "role": {"enum": ["sub"]},
                        "default_float": _given(properties["default_float"]),
                    },
                },
                {
                    "required": ["role", "count_method"],
                    "properties": {"role": {"enum": ["main"]}, "count_method": {"enum": ["total"]}},
                },
            ]
        }
        return schema
