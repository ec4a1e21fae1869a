"""Filters of the API's reference data, and filter types every app's API uses."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import F

from cashdrawer.models import Denomination, Register
from cashdrawer.money import CURRENCY_CHOICES

# The largest primary key PostgreSQL's bigint holds: a bigger id in a query string or a
# body is a 400, never an overflow in the database. Every API module uses this one.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.Filter):
    """An object's id: a whole number within what the database holds (else 400), so a
    huge or fractional id in a query string is refused, never sent to the database."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


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
