"""The query parameters of the report endpoints and CSV downloads, checked in one place.

`?location=&from=&to=` (local days of the location, both inclusive), `ordering` for the
session list and `dialect` for CSV files, and the session filters every report shares with
the back-office page and GET /api/v1/sessions/ (sessions_app.filters.SessionNarrowing:
register, opened_by, closed_by, status, counted, late, discrepancy, min_discrepancy). A
bad value answers 400 with `{"field": ["message"]}`; which locations the user may read
is decided in reports/api.py.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters import ChoiceFilter
from drf_spectacular.drainage import get_override
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from cashdrawer.filters import DAY_PATTERN, MAX_ID
from cashdrawer.scope import MAX_DAYS, outside_calendar, outside_calendar_message
from reports.exports import DIALECTS
from reports.selectors import SESSION_ORDERINGS
from sessions_app.filters import NARROWING_PARAMETERS, SessionNarrowing
from sessions_app.models import TrackingSession

_DAY = re.compile(DAY_PATTERN)


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": r"^(?:19[0-9]{2}|2[0-9]{3})-[0-9]{2}-[0-9]{2}$",
    }
)
class DayField(serializers.DateField):
    """A local day written YYYY-MM-DD (DRF would also read "20261101"). The schema's
    pattern also states the years of cashdrawer.scope's FIRST_DATE to LAST_DATE, which
    validate() checks with its own message."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
        return super().to_internal_value(value)


class ReportQuerySerializer(serializers.Serializer):
    """`location`, `from` and `to` of every report and CSV download."""

    location = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=_(
            "Location id. May be left out by a user who reads reports of one location only; "
            "CSV downloads without it cover all the user's locations, one row per location."
        ),
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so these two cannot be class attributes.
        fields = super().get_fields()
        fields["from"] = DayField(
            help_text=_("First local day of the range (YYYY-MM-DD), inclusive.")
        )
        fields["to"] = DayField(
            help_text=_(
                "Last local day of the range (YYYY-MM-DD), inclusive: not before `from`, "
                "and at most three years after it."
            )
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs["from"], attrs["to"]
        errors: dict[str, list[str]] = {}
        for name, day in (("from", first), ("to", last)):
            if outside_calendar(day):
                errors[name] = [outside_calendar_message()]
        if not errors and first > last:
            errors["to"] = [str(_("The last day of the range comes before the first day."))]
        elif not errors and (last - first).days >= MAX_DAYS:
            errors["to"] = [str(_("Choose a range of at most three years."))]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class CSVQuerySerializer(ReportQuerySerializer):
    dialect = serializers.ChoiceField(
        choices=list(DIALECTS),
        default="excel",
        help_text=_(
            "excel: comma-separated, decimal points, no byte-order mark. "
            "excel-eu: semicolons and decimal commas, with a UTF-8 byte-order mark, for "
            "spreadsheets set to Dutch or German."
        ),
    )


class SessionsCSVQuerySerializer(CSVQuerySerializer):
    ordering = serializers.ChoiceField(
        choices=list(SESSION_ORDERINGS),
        default="-opened_at",
        help_text=_("Order of the rows: by start, end or total discrepancy; '-' for descending."),
    )


# --- the session filters -------------------------------------------------------------------


def session_narrowing(params, *, request=None) -> SessionNarrowing:
    """The session filters of a query string, checked: `.errors` says what is wrong."""
    narrowing = SessionNarrowing(params, queryset=TrackingSession.objects.none(), request=request)
    narrowing.is_valid()
    return narrowing


def narrow(
    sessions: QuerySet[TrackingSession], narrowing: SessionNarrowing
) -> QuerySet[TrackingSession]:
    """`sessions` less those the valid filters leave out (an invalid one is not applied)."""
    return narrowing.filter_queryset(sessions)


def narrowing_schema() -> list[OpenApiParameter]:
    """The filters as OpenAPI query parameters, read from the one definition: the schemas
    its filter types declare (sessions_app/filters.py, cashdrawer/filters.py), so the
    reports and GET sessions/ state the same bounds."""
    parameters = []
    for name in NARROWING_PARAMETERS:
        definition = SessionNarrowing.base_filters[name]
        if isinstance(definition, ChoiceFilter):
            schema = {"type": "string", "enum": [v for v, _ in definition.extra["choices"]]}
        else:
            schema = get_override(type(definition), "field")
        parameters.append(
            OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=NARROWING_HELP[name])
        )
    return parameters


NARROWING_HELP = {
    "register": "Sessions of this register (id).",
    "opened_by": "Sessions opened by this user (id).",
    "closed_by": "Sessions closed by this user (id).",
    "status": "open or closed.",
    "counted": "true: sessions closed with a count; false: closed without one (sub sessions, "
    "counted at their main, are neither).",
    "late": "true: sessions with late transactions; false: those without.",
    "discrepancy": "Closed sessions whose total discrepancy is short (< 0), over (> 0) or "
    "either (any).",
    "min_discrepancy": "Closed sessions whose total discrepancy is at least this much either "
    "way, e.g. 5.00 (0 to 9999999999999.99).",
}
