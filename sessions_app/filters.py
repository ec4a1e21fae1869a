"""Filters of the session and transaction lists of the API, and the session filters the
report page, the report API and its CSV downloads share (`SessionNarrowing`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from cashdrawer import selectors
from cashdrawer.filters import DayFilter, IdFilter, StableOrderingFilter, TrueFalseFilter
from cashdrawer.money import FIGURE_LIMIT
from sessions_app.models import TrackingSession, Transaction

# The names of SessionNarrowing's parameters, in the order the report page lists them.
NARROWING_PARAMETERS = (
    "register",
    "opened_by",
    "closed_by",
    "status",
    "counted",
    "late",
    "discrepancy",
    "min_discrepancy",
)


class DiscrepancyChoice:
    SHORT = "short"
    OVER = "over"
    ANY = "any"
    choices = [
        (SHORT, _("short")),
        (OVER, _("over")),
        (ANY, _("short or over")),
    ]


# What the schema states, and nothing else: DecimalField also reads " 5", "5e2" and "+5".
MINIMUM_AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
_MINIMUM_AMOUNT = re.compile(MINIMUM_AMOUNT_PATTERN)


class MinimumAmountField(forms.DecimalField):
    """An amount ≥ 0 written with a decimal point ("2.50"), at most the largest figure a
    session stores: a bigger one matches nothing anyway, and would overflow the query."""

    def to_python(self, value):
        if value not in self.empty_values and not _MINIMUM_AMOUNT.fullmatch(str(value)):
            raise forms.ValidationError(
                _("Enter an amount of at least 0 with a decimal point, e.g. 5.00."),
                code="invalid",
            )
        return super().to_python(value)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", Decimal("0"))
        kwargs.setdefault("max_value", FIGURE_LIMIT)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 15)
        super().__init__(**kwargs)


@extend_schema_field({"type": "string", "format": "decimal", "pattern": MINIMUM_AMOUNT_PATTERN})
class MinimumAmountFilter(django_filters.Filter):
    field_class = MinimumAmountField


def _closed() -> Q:
    return Q(status=TrackingSession.Status.CLOSED)


class SessionNarrowing(django_filters.FilterSet):
    """Which sessions a list or an overview covers, beyond its location and days.

    One definition for the report page, the report API and CSV downloads, and
    GET /api/v1/sessions/ (which adds its own location, days and ordering). The queryset
    it narrows is already limited to the user's locations, so an id from another store
    matches no row: it never reaches anyone else's data.

    A discrepancy is a closed session's: while a session is open its total discrepancy
    is only the start one, and of a blind session that is hidden from the cashier who
    counts it; filtering on it must not reveal it (rule 7).
    """

    register = IdFilter(field_name="register_id", label=_("Register"))
    opened_by = IdFilter(field_name="opened_by_id", label=_("Opened by"))
    closed_by = IdFilter(field_name="closed_by_id", label=_("Closed by"))
    status = django_filters.ChoiceFilter(choices=TrackingSession.Status.choices, label=_("Status"))
    counted = TrueFalseFilter(method="filter_counted", label=_("Counted"))
    late = TrueFalseFilter(method="filter_late", label=_("Late sales"))
    discrepancy = django_filters.ChoiceFilter(
        choices=DiscrepancyChoice.choices, method="filter_discrepancy", label=_("Discrepancy")
    )
    min_discrepancy = MinimumAmountFilter(
        method="filter_min_discrepancy", label=_("Discrepancy of at least")
    )

    class Meta:
        model = TrackingSession
        fields = list(NARROWING_PARAMETERS)

    def filter_counted(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.filter(counted_cash__isnull=False)
        # As the overview's "not counted" line: a sub session is counted at its main.
        return queryset.filter(_closed(), main_session__isnull=True, counted_cash__isnull=True)

    def filter_late(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        late = Exists(Transaction.objects.filter(session=OuterRef("pk"), late=True))
        return queryset.filter(late if value else ~late)

    def filter_discrepancy(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == DiscrepancyChoice.SHORT:
            condition = Q(total_discrepancy__lt=0)
        elif value == DiscrepancyChoice.OVER:
            condition = Q(total_discrepancy__gt=0)
        else:
            condition = ~Q(total_discrepancy=0)
        return queryset.filter(_closed() & condition)

    def filter_min_discrepancy(self, queryset: QuerySet, name: str, value: Decimal) -> QuerySet:
        if value == 0:
            return queryset  # every discrepancy is at least 0.00
        bound = Q(total_discrepancy__gte=value) | Q(total_discrepancy__lte=-value)
        return queryset.filter(_closed() & bound)

    def active(self) -> dict:
        """The filters given and valid, by name, in the order of NARROWING_PARAMETERS."""
        if not self.is_bound:
            return {}
        self.is_valid()  # cleaned_data holds the valid fields, also when others are not
        cleaned = self.form.cleaned_data
        return {
            name: cleaned[name]
            for name in NARROWING_PARAMETERS
            if cleaned.get(name) not in (None, "")
        }


def _local_midnight(location, day: dt.date) -> dt.datetime | None:
    """The start of a local day, or None when it lies beyond what a datetime holds in UTC
    (the first or last days of year 1 and 9999): no bound, then."""
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=location.tzinfo).astimezone(dt.UTC)
    except OverflowError:
        return None


class SessionFilter(SessionNarrowing):
    location = IdFilter(field_name="location_id")
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
        fields = ["location", *NARROWING_PARAMETERS, "opened_from", "opened_to"]

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
