"""Read-only admin of sessions and every record of money in them.

Sessions, transactions, adjustments, counts, transfers and corrections change only
through sessions_app/services.py (which checks the rules, locks and writes the audit
log), so here they can be found and read but never added, edited or deleted. The session
list filters by location, local date range and status, and exports the selected sessions
with the same CSV code as the API (reports/exports.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Q, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html_join

from cashdrawer.admin import ReadOnlyAdmin, ReadOnlyTabularInline, local_time, money
from cashdrawer.models import Location
from cashdrawer.scope import RANGES, resolve_period
from reports import exports
from reports.selectors import local_day_bounds, session_list
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import refunds_by_method, sales_by_method

# --- inlines of a session's change page -------------------------------------------------


class _SessionChildInline(ReadOnlyTabularInline):
    """A read-only list of one kind of record on the session page, amounts as strings."""

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("session__location")

    @admin.display(description="amount")
    def amount_display(self, obj: Any) -> str:
        return money(obj.amount, obj.session.location.currency)


class TransactionInline(_SessionChildInline):
    model = Transaction
    fields = [
        "occurred_local",
        "kind",
        "payment_method",
        "amount_display",
        "external_id",
        "late",
        "received_local",
        "recorded_by",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        return super().get_queryset(request).select_related("recorded_by")

    @admin.display(description="occurred at")
    def occurred_local(self, obj: Transaction) -> str:
        return local_time(obj.occurred_at, obj.session.location)

    @admin.display(description="received at")
    def received_local(self, obj: Transaction) -> str:
        return local_time(obj.received_at, obj.session.location)


class AdjustmentInline(_SessionChildInline):
    model = Adjustment
    fields = ["created_local", "direction", "amount_display", "reason", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Adjustment]:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description="at")
    def created_local(self, obj: Adjustment) -> str:
        return local_time(obj.created_at, obj.session.location)


class CountLineInline(_SessionChildInline):
    model = CountLine
    fields = ["stage", "value_display", "quantity", "subtotal_display"]
    readonly_fields = fields
    show_change_link = False
    verbose_name = "count line"
    verbose_name_plural = "counts (opening and closing)"

    @admin.display(description="value")
    def value_display(self, obj: CountLine) -> str:
        return money(obj.value, obj.session.location.currency)

    @admin.display(description="subtotal")
    def subtotal_display(self, obj: CountLine) -> str:
        return money(obj.subtotal, obj.session.location.currency)


class CorrectionInline(_SessionChildInline):
    model = Correction
    fields = ["created_local", "amount_display", "reason", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Correction]:
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description="at")
    def created_local(self, obj: Correction) -> str:
        return local_time(obj.created_at, obj.session.location)


class _TransferInline(ReadOnlyTabularInline):
    model = ClosingTransfer
    fields = ["sub_session", "main_session", "amount_display", "created_local", "created_by"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ClosingTransfer]:
        return (
            super()
            .get_queryset(request)
            .select_related(
                "sub_session__register", "main_session__register", "main_session__location"
            )
            .select_related("created_by")
        )

    @admin.display(description="amount")
    def amount_display(self, obj: ClosingTransfer) -> str:
        return money(obj.amount, obj.main_session.location.currency)

    @admin.display(description="at")
    def created_local(self, obj: ClosingTransfer) -> str:
        return local_time(obj.created_at, obj.main_session.location)


class TransfersInInline(_TransferInline):
    """On a main session: the cash transferred from its closed sub sessions (rule 9)."""

    fk_name = "main_session"
    verbose_name = "transfer from a sub-register"
    verbose_name_plural = "transfers from sub-registers"


class TransferOutInline(_TransferInline):
    """On a sub session: the transfer of its cash to the main session at its close."""

    fk_name = "sub_session"
    verbose_name = "transfer to the main register"
    verbose_name_plural = "transfer to the main register"


class SubSessionInline(ReadOnlyTabularInline):
    model = TrackingSession
    fk_name = "main_session"
    fields = ["register", "status", "opened_local", "closed_local", "expected_display"]
    readonly_fields = fields
    verbose_name = "sub-register session"
    verbose_name_plural = "sub-register sessions"

    def get_queryset(self, request: HttpRequest) -> QuerySet[TrackingSession]:
        return super().get_queryset(request).select_related("register__location", "location")

    @admin.display(description="opened at")
    def opened_local(self, obj: TrackingSession) -> str:
        return local_time(obj.opened_at, obj.location)

    @admin.display(description="closed at")
    def closed_local(self, obj: TrackingSession) -> str:
        return local_time(obj.closed_at, obj.location)

    @admin.display(description="expected cash")
    def expected_display(self, obj: TrackingSession) -> str:
        return money(obj.current_expected_cash, obj.location.currency)


# --- sessions -----------------------------------------------------------------------------


def _session_money(field: str, description: str):
    """A read-only display of one money column of a session, as a plain decimal string."""

    @admin.display(description=description, ordering=field)
    def display(self, obj: TrackingSession) -> str:
        return money(getattr(obj, field), obj.location.currency)

    display.__name__ = f"{field}_display"
    return display


class OpenedFilter(admin.SimpleListFilter):
    """Sessions opened on local days of their own location, as the overviews count them.

    The ranges are the back-office page's (cashdrawer.scope); "today" is each location's
    own today. A custom range is `?opened_from=YYYY-MM-DD&opened_to=YYYY-MM-DD` (the
    admin index has a form for it).
    """

    title = "opened"
    parameter_name = "opened"
    custom_parameters = ("opened_from", "opened_to")

    def __init__(self, request, params, model, model_admin):
        # Popped before the changelist would take them for lookups on fields.
        custom = {name: params.pop(name)[-1] for name in self.custom_parameters if name in params}
        super().__init__(request, params, model, model_admin)
        self.used_parameters.update(custom)

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [(key, label) for key, label in RANGES.items() if key != "custom"]

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name, *self.custom_parameters]

    def _params(self) -> dict[str, str] | None:
        if any(self.used_parameters.get(name) for name in self.custom_parameters):
            return {
                "range": "custom",
                "from": self.used_parameters.get("opened_from", ""),
                "to": self.used_parameters.get("opened_to", ""),
            }
        if self.value() in RANGES:
            return {"range": self.value()}
        return None

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        params = self._params()
        if params is None:
            return queryset
        now = timezone.now()
        condition = Q(pk__in=[])
        for location in Location.objects.all():
            period = resolve_period(params, now.astimezone(location.tzinfo).date())
            if period.error:
                # The changelist answers this with its "invalid filter" page (?e=1)
                # rather than quietly showing another range.
                raise IncorrectLookupParameters(period.error)
            start, end = local_day_bounds(location, period.first, period.last)
            condition |= Q(location=location, opened_at__gte=start, opened_at__lt=end)
        return queryset.filter(condition)

    def choices(self, changelist):
        custom = self._params() if self.value() is None else None
        everything = [self.parameter_name, *self.custom_parameters]
        yield {
            "selected": self.value() is None and custom is None,
            "query_string": changelist.get_query_string(remove=everything),
            "display": "Any date",
        }
        for key, label in self.lookup_choices:
            yield {
                "selected": self.value() == key,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: key}, remove=self.custom_parameters
                ),
                "display": label,
            }
        if custom is not None:
            yield {
                "selected": True,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": f"{custom['from'] or '…'} – {custom['to'] or '…'}",
            }


@admin.register(TrackingSession)
class TrackingSessionAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "register",
        "location",
        "status",
        "opened_local",
        "opened_automatically",
        "closed_local",
        "opening_float_display",
        "expected_display",
        "counted_display",
        "total_discrepancy_display",
    ]
    list_filter = ["location", OpenedFilter, "status", "opened_automatically", "register__role"]
    actions = ["export_csv", "export_csv_excel_eu"]
    search_fields = [
        "register__name",
        "register__code",
        "location__name",
        "opening_note",
        "closing_note",
    ]
    list_select_related = [
        "register__location",
        "location",
        "opened_by",
        "closed_by",
        "main_session__register",
    ]
    date_hierarchy = "opened_at"
    fieldsets = [
        (
            "Session",
            {
                "fields": [
                    "register",
                    "location",
                    "main_session",
                    "status",
                    "opened_local",
                    "opened_by",
                    "opened_automatically",
                    "opening_note",
                    "closed_local",
                    "closed_by",
                    "closing_note",
                ]
            },
        ),
        (
            "Opening",
            {
                "fields": [
                    "previous_closing_float_display",
                    "opening_float_display",
                    "start_discrepancy_display",
                ]
            },
        ),
        (
            "During the session",
            {
                "fields": [
                    "total_sales_display",
                    "sales_by_method_display",
                    "total_refunds_display",
                    "refunds_by_method_display",
                    "cash_sales_display",
                    "cash_refunds_display",
                    "net_cash_display",
                    "adjustments_in_display",
                    "adjustments_out_display",
                    "sub_register_cash_display",
                ]
            },
        ),
        (
            "Close",
            {
                "fields": [
                    "expected_display",
                    "counted_display",
                    "end_discrepancy_display",
                    "retained_float_display",
                    "cash_removed_display",
                    "total_discrepancy_display",
                ]
            },
        ),
    ]
    readonly_fields = [
        name
        for _title, options in fieldsets
        for name in options["fields"]
        if name.endswith(("_display", "_local"))
    ]
    inlines = [
        TransactionInline,
        AdjustmentInline,
        CountLineInline,
        SubSessionInline,
        TransfersInInline,
        TransferOutInline,
        CorrectionInline,
    ]

    def get_inlines(self, request: HttpRequest, obj: TrackingSession | None):
        if obj is None:
            return self.inlines
        hidden = set()
        if not obj.register.is_sub:
            hidden.add(TransferOutInline)
        if not obj.register.is_main:
            hidden |= {SubSessionInline, TransfersInInline}
        return [inline for inline in self.inlines if inline not in hidden]

    @admin.action(description="Export CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        return self._export(queryset, "excel")

    @admin.action(
        description="Export CSV for Excel in Dutch or German (; and decimal commas)",
        permissions=["view"],
    )
    def export_csv_excel_eu(
        self, request: HttpRequest, queryset: QuerySet
    ) -> StreamingHttpResponse:
        return self._export(queryset, "excel-eu")

    @staticmethod
    def _export(queryset: QuerySet, dialect: str) -> StreamingHttpResponse:
        """The selected sessions as sessions.csv: the API's columns, rows and order."""
        return exports.csv_response(
            filename=f"sessions_admin_{timezone.now():%Y-%m-%d_%H%M}.csv",
            header=exports.SESSION_COLUMNS,
            rows=exports.session_rows(session_list(queryset)),
            dialect=exports.DIALECTS[dialect],
        )

    @admin.display(description="opened at", ordering="opened_at")
    def opened_local(self, obj: TrackingSession) -> str:
        return local_time(obj.opened_at, obj.location)

    @admin.display(description="closed at", ordering="closed_at")
    def closed_local(self, obj: TrackingSession) -> str:
        return local_time(obj.closed_at, obj.location)

    previous_closing_float_display = _session_money(
        "previous_closing_float", "previous closing float"
    )
    opening_float_display = _session_money("opening_float", "opening float")
    start_discrepancy_display = _session_money("start_discrepancy", "start discrepancy")
    total_sales_display = _session_money("total_sales", "total sales")
    total_refunds_display = _session_money("total_refunds", "total refunds")
    cash_sales_display = _session_money("cash_sales", "cash sales")
    cash_refunds_display = _session_money("cash_refunds", "cash refunds")
    adjustments_in_display = _session_money("adjustments_in", "adjustments in")
    adjustments_out_display = _session_money("adjustments_out", "adjustments out")
    sub_register_cash_display = _session_money("sub_register_cash", "cash from sub-registers")
    end_discrepancy_display = _session_money("end_discrepancy", "end discrepancy")
    retained_float_display = _session_money("retained_float", "retained float")
    cash_removed_display = _session_money("cash_removed", "cash removed")
    total_discrepancy_display = _session_money("total_discrepancy", "total discrepancy")

    @admin.display(description="net cash")
    def net_cash_display(self, obj: TrackingSession) -> str:
        return money(obj.net_cash, obj.location.currency)

    @admin.display(description="expected cash", ordering="expected_cash")
    def expected_display(self, obj: TrackingSession) -> str:
        # While open: what should be in the drawer now; once closed: stored at the close.
        return money(obj.current_expected_cash, obj.location.currency)

    @admin.display(description="counted cash", ordering="counted_cash")
    def counted_display(self, obj: TrackingSession) -> str:
        if obj.is_open:
            return "—"
        if obj.register.is_sub:
            return "counted at the main register"
        if obj.counted_cash is None:
            return "not counted"
        return money(obj.counted_cash, obj.location.currency)

    @admin.display(description="sales by payment method")
    def sales_by_method_display(self, obj: TrackingSession) -> str:
        return self._by_method(sales_by_method(obj), obj.location.currency)

    @admin.display(description="refunds by payment method")
    def refunds_by_method_display(self, obj: TrackingSession) -> str:
        return self._by_method(refunds_by_method(obj), obj.location.currency)

    @staticmethod
    def _by_method(totals: dict, currency: str) -> str:
        if not totals:
            return "—"
        return format_html_join(
            ", ", "{}: {}", ((method, money(total, currency)) for method, total in totals.items())
        )


# --- the records of money, each on its own ------------------------------------------------


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_local",
        "register",
        "location",
        "kind",
        "payment_method",
        "amount_display",
        "late",
        "external_id",
        "session",
        "received_local",
    ]
    list_filter = ["register__location", "kind", "payment_method", "late"]
    search_fields = ["external_id", "register__name", "register__code", "register__location__name"]
    list_select_related = ["register__location", "session__register", "recorded_by"]
    date_hierarchy = "occurred_at"
    fields = [
        "register",
        "session",
        "kind",
        "payment_method",
        "amount_display",
        "occurred_local",
        "received_local",
        "external_id",
        "late",
        "recorded_by",
    ]
    readonly_fields = ["amount_display", "occurred_local", "received_local"]

    @admin.display(description="location", ordering="register__location__name")
    def location(self, obj: Transaction) -> str:
        return obj.register.location.name

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Transaction) -> str:
        return money(obj.amount, obj.register.location.currency)

    @admin.display(description="occurred at", ordering="occurred_at")
    def occurred_local(self, obj: Transaction) -> str:
        return local_time(obj.occurred_at, obj.register.location)

    @admin.display(description="received at", ordering="received_at")
    def received_local(self, obj: Transaction) -> str:
        return local_time(obj.received_at, obj.register.location)


class _SessionRecordAdmin(ReadOnlyAdmin):
    """A record that belongs to a session: found by its register, store and reason."""

    list_filter = ["session__location"]
    search_fields = [
        "session__register__name",
        "session__register__code",
        "session__location__name",
    ]
    list_select_related = ["session__register", "session__location"]

    @admin.display(description="register", ordering="session__register__name")
    def register(self, obj: Any) -> str:
        return obj.session.register.name

    @admin.display(description="location", ordering="session__location__name")
    def location(self, obj: Any) -> str:
        return obj.session.location.name

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: Any) -> str:
        return money(obj.amount, obj.session.location.currency)


@admin.register(Adjustment)
class AdjustmentAdmin(_SessionRecordAdmin):
    list_display = [
        "created_local",
        "register",
        "location",
        "direction",
        "amount_display",
        "reason",
        "created_by",
        "session",
    ]
    list_filter = ["session__location", "direction"]
    search_fields = [*_SessionRecordAdmin.search_fields, "reason"]
    list_select_related = [*_SessionRecordAdmin.list_select_related, "created_by"]
    date_hierarchy = "created_at"
    fields = ["session", "direction", "amount_display", "reason", "created_local", "created_by"]
    readonly_fields = ["amount_display", "created_local"]

    @admin.display(description="at", ordering="created_at")
    def created_local(self, obj: Adjustment) -> str:
        return local_time(obj.created_at, obj.session.location)


@admin.register(CountLine)
class CountLineAdmin(_SessionRecordAdmin):
    list_display = ["session", "location", "stage", "value_display", "quantity", "subtotal_display"]
    list_filter = ["session__location", "stage"]
    fields = ["session", "stage", "value_display", "quantity", "subtotal_display"]
    readonly_fields = ["value_display", "subtotal_display"]

    @admin.display(description="value", ordering="value")
    def value_display(self, obj: CountLine) -> str:
        return money(obj.value, obj.session.location.currency)

    @admin.display(description="subtotal")
    def subtotal_display(self, obj: CountLine) -> str:
        return money(obj.subtotal, obj.session.location.currency)


@admin.register(Correction)
class CorrectionAdmin(_SessionRecordAdmin):
    list_display = [
        "created_local",
        "session",
        "location",
        "amount_display",
        "reason",
        "created_by",
    ]
    search_fields = [*_SessionRecordAdmin.search_fields, "reason"]
    list_select_related = [*_SessionRecordAdmin.list_select_related, "created_by"]
    fields = ["session", "amount_display", "reason", "created_local", "created_by"]
    readonly_fields = ["amount_display", "created_local"]

    @admin.display(description="at", ordering="created_at")
    def created_local(self, obj: Correction) -> str:
        return local_time(obj.created_at, obj.session.location)


@admin.register(ClosingTransfer)
class ClosingTransferAdmin(ReadOnlyAdmin):
    list_display = ["created_local", "sub_session", "main_session", "location", "amount_display"]
    list_filter = ["main_session__location"]
    search_fields = [
        "sub_session__register__name",
        "sub_session__register__code",
        "main_session__register__name",
        "main_session__register__code",
        "main_session__location__name",
    ]
    list_select_related = [
        "sub_session__register",
        "main_session__register",
        "main_session__location",
    ]
    fields = ["sub_session", "main_session", "amount_display", "created_local", "created_by"]
    readonly_fields = ["amount_display", "created_local"]

    @admin.display(description="location", ordering="main_session__location__name")
    def location(self, obj: ClosingTransfer) -> str:
        return obj.main_session.location.name

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj: ClosingTransfer) -> str:
        return money(obj.amount, obj.main_session.location.currency)

    @admin.display(description="at", ordering="created_at")
    def created_local(self, obj: ClosingTransfer) -> str:
        return local_time(obj.created_at, obj.main_session.location)
