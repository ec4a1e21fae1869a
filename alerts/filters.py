"""Filters of the alert list of the API."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from alerts.models import Alert
from cashdrawer.filters import IdFilter, TrueFalseFilter


class AlertFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    session = IdFilter(field_name="session_id")
    kind = django_filters.ChoiceFilter(choices=Alert.Kind.choices)
    seen = TrueFalseFilter(
        method="filter_seen", label="Whether you (the caller) have marked it seen."
    )

    class Meta:
        model = Alert
        fields = ["location", "session", "kind", "seen"]

    def filter_seen(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        # The queryset is alerts.selectors.alerts_for(user): `is_seen` is the caller's.
        return queryset if value is None else queryset.filter(is_seen=value)
