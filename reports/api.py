"""The report endpoints of the API: two JSON overviews and five streamed CSV downloads.

Who reads what: managers and accountants of a location (a superuser everywhere). A cashier
or a device token answers 403; a location the user does not belong to answers 404, never
its data. The figures come from reports/selectors.py and the files from reports/exports.py,
the same code the back-office page and the admin use, so no two of them can disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cashdrawer.api.base import QUERY_ERRORS, errors
from cashdrawer.db_router import reads_from_replica
from cashdrawer.filters import MAX_ID
from cashdrawer.models import Location
from cashdrawer.money import format_amount
from cashdrawer.permissions import is_device
from cashdrawer.selectors import REPORT_ROLES, locations_for
from reports import exports, journal_copy
from reports.filters import (
    CSVQuerySerializer,
    ReportQuerySerializer,
    SessionsCSVQuerySerializer,
    narrow,
    narrowing_schema,
    session_narrowing,
)
from reports.selectors import (
    cash_journal,
    cash_payments_overview,
    corrections_of,
    discrepancy_overview,
    session_list,
    sessions_in_range,
)
from sessions_app.filters import SessionNarrowing
from sessions_app.models import TrackingSession

# --- who may read reports ----------------------------------------------------------------


class ReadsReports(BasePermission):
    """A user (not a device) who is a manager or accountant somewhere, or a superuser.

    Which of the user's locations a request may read is decided per request by
    `report_scope`, from the same scoped queryset.
    """

    message = _("Only managers and accountants read reports.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if is_device(request):
            self.message = _("A device token cannot read reports.")
            return False
        readable = locations_for(request.user, roles=REPORT_ROLES)
        # A report of one location (most are): finding it among the user's answers this
        # question and report_scope's in one query instead of two.
        location = _readable_location(readable, request.query_params.get("location", ""))
        if location is not None:
            request.report_location = location
            return True
        return readable.exists()


def _readable_location(readable: QuerySet[Location], location_id: str) -> Location | None:
    """The location of a well-formed `location` parameter, if the user reads it."""
    if not (location_id.isascii() and location_id.isdigit()):
        return None
    pk = int(location_id)
    return readable.filter(pk=pk).first() if 1 <= pk <= MAX_ID else None


@dataclass(frozen=True)
class ReportScope:
    location: Location | None  # None: all the user's report locations
    locations: list[Location]
    first: dt.date
    last: dt.date
    params: dict[str, Any]
    narrowing: SessionNarrowing

    def sessions(self, locations: list[Location] | None = None) -> QuerySet[TrackingSession]:
        """The sessions of the range at `locations` (all of the scope's), filtered."""
        sessions = sessions_in_range(locations or self.locations, self.first, self.last)
        return narrow(sessions, self.narrowing)


def report_scope(request: Request, query_serializer: type[serializers.Serializer]) -> ReportScope:
    """Check the query parameters (400), then find the location among the user's (404/403).

    The session filters narrow sessions already limited to the user's report locations, so
    a register or user id of another store only finds nothing."""
    query = query_serializer(data=request.query_params)
    narrowing = session_narrowing(request.query_params, request=request)
    if not query.is_valid() or narrowing.errors:
        raise ValidationError({**narrowing.errors, **query.errors})
    params = query.validated_data
    readable = locations_for(request.user, roles=REPORT_ROLES)
    location_id = params.get("location")
    if location_id is None:
        return ReportScope(
            None,
            list(readable.order_by("name", "pk")),
            params["from"],
            params["to"],
            params,
            narrowing,
        )
    location = getattr(request, "report_location", None)  # found by ReadsReports
    if location is None or location.pk != location_id:
        location = readable.filter(pk=location_id).first()
    if location is None:
        # A location where the user works in another role (a cashier) is theirs to know
        # about, so 403; any other location does not exist for them.
        if locations_for(request.user).filter(pk=location_id).exists():
            raise PermissionDenied(_("Only managers and accountants read reports."))
        raise NotFound(_("No such location."))
    return ReportScope(location, [location], params["from"], params["to"], params, narrowing)


def single_location(scope: ReportScope) -> Location:
    """A JSON report is about one location: one currency, one set of figures."""
    if scope.location is not None:
        return scope.location
    if len(scope.locations) == 1:
        return scope.locations[0]
    raise ValidationError({"location": [_("You read reports of several locations: choose one.")]})


# --- OpenAPI descriptions ---------------------------------------------------------------


# 400 {"field": ["message"]}; 401, 403, 404 and 503 {"detail", "code"} (the API's one
# handler).
ERROR_RESPONSES = errors(
    *QUERY_ERRORS,
    e403="Cashiers and device tokens do not read reports.",
    e404="No such location among the user's.",
)


def money_field(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        help_text=f"{help_text} Decimal string with the currency's minor units, e.g. 150.00."
    )


class _RangeSerializer(serializers.Serializer):
    location = serializers.IntegerField(help_text="Location id.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # After "location", before the figures; "from" cannot be a class attribute.
        ordered = {"location": fields.pop("location")}
        ordered["from"] = serializers.DateField(help_text="First local day, inclusive.")
        ordered["to"] = serializers.DateField(help_text="Last local day, inclusive.")
        ordered["currency"] = serializers.CharField(help_text="ISO 4217 code, e.g. EUR.")
        ordered.update(fields)
        return ordered


class StartFiguresSerializer(serializers.Serializer):
    reported = money_field("Sum of the previous closing floats.")
    counted = money_field(
        "Sum of the opening floats of the sessions that have a previous closing float."
    )
    discrepancy = money_field("Sum of the start discrepancies: counted - reported.")
    first_openings = serializers.IntegerField(
        help_text="Registers' first sessions (no previous close): nothing to compare with, "
        "so they are in neither reported nor counted."
    )
    first_openings_float = money_field("Sum of the opening floats of the first openings.")


class EndFiguresSerializer(serializers.Serializer):
    expected = money_field(
        "Sum of the expected cash of the closed, counted sessions (not sub sessions)."
    )
    counted = money_field("Sum of their counted cash.")
    discrepancy = money_field("Sum of their end discrepancies: counted - expected.")
    not_counted_sessions = serializers.IntegerField(
        help_text="Closed sessions that were not counted (sub sessions excluded): in "
        "neither expected nor counted."
    )
    not_counted_expected = money_field("Sum of the expected cash of those not counted.")


class CorrectionFiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Corrections made (whenever) to the sessions opened in the range."
    )
    total = money_field("Their sum, signed.")


class DiscrepancyReportSerializer(_RangeSerializer):
    sessions = serializers.IntegerField(help_text="Sessions opened in the range.")
    not_counted_sessions = serializers.IntegerField(
        help_text="Closed sessions that were not counted (sub-register sessions excluded)."
    )
    start = StartFiguresSerializer()
    end = EndFiguresSerializer()
    total_discrepancy = money_field("Start plus end discrepancy.")
    corrections = CorrectionFiguresSerializer()
    total_discrepancy_after_corrections = money_field(
        "total_discrepancy plus the corrections' total."
    )


class CashPaymentsReportSerializer(_RangeSerializer):
    gross = money_field("Sum of the cash sales.")
    refunds = money_field("Sum of the cash refunds.")
    net = money_field("Gross minus refunds.")
    payments_count = serializers.IntegerField()
    refunds_count = serializers.IntegerField()


def _range_data(location: Location, scope: ReportScope) -> dict[str, Any]:
    return {
        "location": location.pk,
        "from": scope.first,
        "to": scope.last,
        "currency": location.currency,
    }


# --- JSON reports -----------------------------------------------------------------------


class ReportView(APIView):
    permission_classes = [IsAuthenticated, ReadsReports]
    query_serializer: type[serializers.Serializer] = ReportQuerySerializer


class DiscrepancyReportView(ReportView):
    @extend_schema(
        operation_id="reports_discrepancy",
        tags=["reports"],
        summary="Discrepancy overview of a location and range of local days",
        parameters=[ReportQuerySerializer, *narrowing_schema()],
        responses={200: DiscrepancyReportSerializer, **ERROR_RESPONSES},
    )
    @reads_from_replica
    def get(self, request: Request) -> Response:
        scope = report_scope(request, self.query_serializer)
        location = single_location(scope)
        overview = discrepancy_overview(scope.sessions([location]))
        currency = location.currency

        def money(amount):
            return format_amount(amount, currency)

        data = {
            **_range_data(location, scope),
            "sessions": overview.sessions,
            "not_counted_sessions": overview.not_counted_sessions,
            "start": {
                "reported": money(overview.start_reported),
                "counted": money(overview.start_counted),
                "discrepancy": money(overview.start_discrepancy),
                "first_openings": overview.first_openings,
                "first_openings_float": money(overview.first_openings_float),
            },
            "end": {
                "expected": money(overview.end_expected),
                "counted": money(overview.end_counted),
                "discrepancy": money(overview.end_discrepancy),
                "not_counted_sessions": overview.not_counted_sessions,
                "not_counted_expected": money(overview.not_counted_expected),
            },
            "total_discrepancy": money(overview.total_discrepancy),
            "corrections": {
                "count": overview.corrections,
                "total": money(overview.corrections_total),
            },
            "total_discrepancy_after_corrections": money(
                overview.total_discrepancy_after_corrections
            ),
        }
        return Response(DiscrepancyReportSerializer(data).data)


class CashPaymentsReportView(ReportView):
    @extend_schema(
        operation_id="reports_cash_payments",
        tags=["reports"],
        summary="Cash-payments overview of a location and range of local days",
        parameters=[ReportQuerySerializer, *narrowing_schema()],
        responses={200: CashPaymentsReportSerializer, **ERROR_RESPONSES},
    )
    @reads_from_replica
    def get(self, request: Request) -> Response:
        scope = report_scope(request, self.query_serializer)
        location = single_location(scope)
        overview = cash_payments_overview(scope.sessions([location]))
        currency = location.currency
        data = {
            **_range_data(location, scope),
            "gross": format_amount(overview.gross, currency),
            "refunds": format_amount(overview.refunds, currency),
            "net": format_amount(overview.net, currency),
            "payments_count": overview.payments_count,
            "refunds_count": overview.refunds_count,
        }
        return Response(CashPaymentsReportSerializer(data).data)


# --- CSV downloads ----------------------------------------------------------------------


def csv_schema(operation_id: str, summary: str, description: str, query=CSVQuerySerializer):
    return extend_schema(
        operation_id=operation_id,
        tags=["reports"],
        summary=summary,
        description=description,
        parameters=[query, *narrowing_schema()],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="A CSV file (attachment), streamed. Header row of stable "
                "English column names.",
            ),
            **ERROR_RESPONSES,
        },
    )


class CSVReportView(ReportView):
    """A download. Its errors are JSON, whatever the Accept header asked for."""

    query_serializer = CSVQuerySerializer
    renderer_classes = [JSONRenderer]
    report = ""  # the start of the file name
    header: tuple[str, ...] = ()

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # "Accept: text/csv" must reach the view (which answers with a file, not a
        # rendered Response), not be refused with 406 by the JSON renderer.
        return super().perform_content_negotiation(request, force=True)

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        raise NotImplementedError

    @reads_from_replica
    def get(self, request: Request) -> StreamingHttpResponse:
        scope = report_scope(request, self.query_serializer)
        return exports.csv_response(
            filename=exports.report_filename(self.report, scope.location, scope.first, scope.last),
            header=self.header,
            rows=self.rows(scope),
            dialect=exports.DIALECTS[scope.params["dialect"]],
        )


class DiscrepancyCSVView(CSVReportView):
    report = "discrepancy"
    header = exports.DISCREPANCY_COLUMNS

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        return exports.discrepancy_rows(
            scope.locations, scope.first, scope.last, sessions=scope.sessions()
        )

    @csv_schema(
        "reports_discrepancy_csv",
        "Discrepancy overview as CSV",
        "One row per location: the location given, or all the user's locations. No total "
        "row (locations may keep different currencies).",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class CashPaymentsCSVView(CSVReportView):
    report = "cash-payments"
    header = exports.CASH_PAYMENTS_COLUMNS

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        return exports.cash_payments_rows(
            scope.locations, scope.first, scope.last, sessions=scope.sessions()
        )

    @csv_schema(
        "reports_cash_payments_csv",
        "Cash-payments overview as CSV",
        "One row per location: the location given, or all the user's locations.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class SessionsCSVView(CSVReportView):
    report = "sessions"
    header = exports.SESSION_COLUMNS
    query_serializer = SessionsCSVQuerySerializer

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        sessions = scope.sessions()
        return exports.session_rows(session_list(sessions, scope.params["ordering"]))

    @csv_schema(
        "reports_sessions_csv",
        "Session list as CSV",
        "One row per session opened in the range, in the order asked for. Times in the "
        "location's time zone; expected_cash of an open session is the cash expected so far.",
        query=SessionsCSVQuerySerializer,
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class CorrectionsCSVView(CSVReportView):
    report = "corrections"
    header = exports.CORRECTION_COLUMNS

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        sessions = scope.sessions()
        return exports.correction_rows(corrections_of(sessions))

    @csv_schema(
        "reports_corrections_csv",
        "Corrections as CSV",
        "Every correction made (whenever) to the sessions opened in the range, in the order "
        "they were made: the ones the discrepancy overview sums. `amount` is signed; "
        "`closing_number` is the corrected session's, `correction_number` and "
        "`correction_hash` the correction's own (numbered and chained per register).",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        return super().get(request)


class JournalCSVView(CSVReportView):
    report = "journal"
    header = exports.JOURNAL_COLUMNS

    def rows(self, scope: ReportScope) -> Iterator[list[Any]]:
        sessions = scope.sessions()
        return exports.journal_rows(cash_journal(sessions))

    @csv_schema(
        "reports_journal_csv",
        "Cash journal as CSV",
        "Every transaction (sale, refund), adjustment (adjustment_in, adjustment_out) and "
        "closing transfer of the sessions opened in the range, one row each, in time order. "
        "A closing transfer belongs to the sub session it closes.",
    )
    @reads_from_replica  # the COPY too reads where the reports read
    def get(self, request: Request) -> StreamingHttpResponse:
        if not journal_copy.is_available():
            return super().get(request)
        # On PostgreSQL the same bytes come from COPY, at the database's own speed.
        scope = report_scope(request, self.query_serializer)
        return exports.file_response(
            exports.report_filename(self.report, scope.location, scope.first, scope.last),
            journal_copy.stream_journal(
                scope.sessions(), exports.DIALECTS[scope.params["dialect"]]
            ),
        )
