"""Filters of the session and transaction lists of the API."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q, QuerySet

from cashdrawer import selectors
from cashdrawer.filters import DayFilter, IdFilter, StableOrderingFilter, TrueFalseFilter
from sessions_app.models import TrackingSession, Transaction


def _local_midnight(location, day: dt.date) -> dt.datetime | None:
    """The start of a local day, or None when it lies beyond what a datetime holds in UTC
    (the first or last days of year 1 and 9999): no bound, then."""
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=location.tzinfo).astimezone(dt.UTC)
    except OverflowError:
        return None


class SessionFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    register = IdFilter(field_name="register_id")
    status = django_filters.ChoiceFilter(choices=TrackingSession.Status.choices)
    opened_from = DayFilter(
        method="filter_opened_from",
        label="Opened on or after this local date of the session's location.",
    )
    opened_to = DayFilter(
        method="filter_opened_to",
        label="Opened on or before this local date of the session's location.",
    )
    ordering = StableOrderingFilter(
        fields=["opened_at", "closed_at", "total_discrepancy"],
        label="opened_at, closed_at or total_discrepancy; with - for descending.",
    )

    class Meta:
        model = TrackingSession
        fields = ["location", "register", "status", "opened_from", "opened_to"]

    def _locations(self):
        return selectors.locations_for(self.request.user) if self.request else []

    def filter_opened_from(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        condition = Q(pk__in=[])
        for location in self._locations():
            start = _local_midnight(location, value)
            bound = Q() if start is None else Q(opened_at__gte=start)
            condition |= Q(location=location) & bound
        return queryset.filter(condition)

    def filter_opened_to(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        if value == dt.date.max:
            return queryset
        condition = Q(pk__in=[])
        for location in self._locations():
            end = _local_midnight(location, value + dt.timedelta(days=1))
            bound = Q() if end is None else Q(opened_at__lt=end)
            condition |= Q(location=location) & bound
        return queryset.filter(condition)


class TransactionFilter(django_filters.FilterSet):
    session = IdFilter(field_name="session_id")
    register = IdFilter(field_name="register_id")
    kind = django_filters.ChoiceFilter(choices=Transaction.Kind.choices)
    payment_method = django_filters.CharFilter()
    late = TrueFalseFilter()

    class Meta:
        model = Transaction
        fields = ["session", "register", "kind", "payment_method", "late"]
