"""Filters of the API's reference data, and filter types every app's API uses."""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from cashdrawer.models import Denomination, Register
from cashdrawer.money import CURRENCY_CHOICES

# The largest primary key PostgreSQL's bigint holds: a bigger id in a query string or a
# body is a 400, never an overflow in the database. Every API module uses this one, and
# the session page's pager for its OFFSET.
MAX_ID = 2**63 - 1


# What the schema's `integer`, `boolean` and `format: date` mean in a query string, and
# nothing else: Django's form fields also read " 7", "+7", "7.0", "yes" and "10/25/2026",
# which an exact schema cannot state.
_DIGITS = re.compile(r"[0-9]+")
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAY = re.compile(DAY_PATTERN)


class WholeNumberField(forms.IntegerField):
    def to_python(self, value):
        if value not in self.empty_values and not _DIGITS.fullmatch(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class TrueFalseField(forms.NullBooleanField):
    """`true` or `false`; empty is no filter; anything else is 400, not ignored."""

    widget = forms.TextInput  # the text as sent: NullBooleanSelect reads "abc" as empty

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value not in ("true", "false"):
            raise forms.ValidationError(_("Enter true or false."), code="invalid")
        return value == "true"

    def validate(self, value) -> None:
        pass


class DayField(forms.DateField):
    """A day written YYYY-MM-DD, as `format: date` has it."""

    input_formats = ["%Y-%m-%d"]

    def to_python(self, value):
        if value not in self.empty_values and not _DAY.fullmatch(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.Filter):
    """An object's id: a whole number within what the database holds (else 400), so a
    huge or fractional id in a query string is refused, never sent to the database."""

    field_class = WholeNumberField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "boolean"})
class TrueFalseFilter(django_filters.BooleanFilter):
    field_class = TrueFalseField


@extend_schema_field({"type": "string", "format": "date", "pattern": DAY_PATTERN})
class DayFilter(django_filters.DateFilter):
    field_class = DayField


class StableOrderingFilter(django_filters.OrderingFilter):
    """`ordering=` with the id as the last key, so pages never overlap or skip rows.

    Empty values (an open session's closed_at) count as the latest on every database:
    last going up, first going down (PostgreSQL's own rule; SQLite's is the opposite).
    """

    def filter(self, qs, value):
        if value in ([], (), {}, "", None):
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        keys = [
            F(name[1:]).desc(nulls_first=True)
            if name.startswith("-")
            else F(name).asc(nulls_last=True)
            for name in ordering
        ]
        last = "-id" if ordering[-1].startswith("-") else "id"
        return qs.order_by(*keys, last)


class RegisterFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    role = django_filters.ChoiceFilter(choices=Register.Role.choices)

    class Meta:
        model = Register
        fields = ["location", "role"]


class DenominationFilter(django_filters.FilterSet):
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES)
    kind = django_filters.ChoiceFilter(choices=Denomination.Kind.choices)

    class Meta:
        model = Denomination
        fields = ["currency", "kind"]
