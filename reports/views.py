"""Back-office report pages: the cash-tracking overview and the session page.

The overview reads the same selectors as the API and the CSV files
(reports/selectors.py), so the figures on screen and in a download cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.formats import localize, number_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cashdrawer.actors import actor
from cashdrawer.bounds import method_label
from cashdrawer.db_router import reads_from_replica
from cashdrawer.filters import MAX_ID
from cashdrawer.models import ApiToken, Location, Membership, Register
from cashdrawer.scope import RANGES, scope_from_request
from cashdrawer.selectors import (
    OPERATOR_ROLES,
    REPORT_ROLES,
    locations_for,
    role_at,
)
from cashdrawer.templatetags.cashdrawer import (
    format_money,
    money,
    payment_method,
    tone,
    when,
    when_time,
)
from reports import selectors
from reports.charts import discrepancy_charts
from reports.filters import narrow, session_narrowing
from reports.forms import CorrectionForm
from sessions_app.exceptions import DomainError, InvalidInput
from sessions_app.filters import NARROWING_PARAMETERS, DiscrepancyChoice
from sessions_app.models import (
    ClosingTransfer,
    CountLine,
    DiscrepancyNote,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import (
    audit_trail,
    counted_blind,
    is_blind,
    method_totals,
    passes_threshold,
    with_corrections,
)
from sessions_app.services import add_correction

PAGE_SIZE = 25
TRANSACTIONS_PAGE_SIZE = 100
DEFAULT_ORDERING = "-opened_at"
# The direction a column sorts in when it is first clicked: newest first for times, the
# most short first for discrepancies (what a manager looks for).
SORTABLE_COLUMNS = {
    "opened_at": "-opened_at",
    "closed_at": "-closed_at",
    "total_discrepancy": "total_discrepancy",
}


@dataclass(frozen=True)
class SortLink:
    query: str
    arrow: str  # "▲", "▼" or "" when the list is not sorted by this column
    aria_sort: str


def _sort_links(scope, ordering: str) -> dict[str, SortLink]:
    links = {}
    for column, first_click in SORTABLE_COLUMNS.items():
        if ordering == column:
            links[column] = SortLink(scope.query(ordering=f"-{column}"), "▲", "ascending")
        elif ordering == f"-{column}":
            links[column] = SortLink(scope.query(ordering=column), "▼", "descending")
        else:
            links[column] = SortLink(scope.query(ordering=first_click), "", "none")
    return links


@dataclass(frozen=True)
class LocationRow:
    location: Location
    discrepancy: selectors.DiscrepancyOverview
    payments: selectors.CashPaymentsOverview


@login_required
@require_GET
@reads_from_replica
def overview(request: HttpRequest) -> HttpResponse:
    """Discrepancy and cash-payments overviews and the session list of a location (or all
    of the user's locations) over a range of local days."""
    if not locations_for(request.user, roles=REPORT_ROLES).exists():
        operator = locations_for(request.user, roles=OPERATOR_ROLES).exists()
        return render(request, "reports/no_access.html", {"can_operate": operator}, status=403)
    scope = scope_from_request(
        request, roles=REPORT_ROLES, allow_all=True, keep=("ordering", *NARROWING_PARAMETERS)
    )
    first, last = scope.period.first, scope.period.last
    # A filter with a bad value is shown with its error and not applied; the others are.
    narrowing = session_narrowing(request.GET, request=request)
    sessions = narrow(selectors.sessions_in_range(scope.selected, first, last), narrowing)
    filters = _filter_choices(scope)

    ordering = request.GET.get("ordering", DEFAULT_ORDERING)
    if ordering not in selectors.SESSION_ORDERINGS:
        ordering = DEFAULT_ORDERING
    # All locations: a row each, in one query grouped by location (two on SQLite), and the
    # page's totals added up from them (the same figures, without a query of their own).
    if scope.location is None:
        location_rows = [
            LocationRow(location, discrepancy, payments)
            for location, discrepancy, payments in selectors.overviews_by_location(
                scope.selected, first, last, sessions=sessions
            )
        ]
        discrepancy, payments = selectors.summed(
            (row.discrepancy, row.payments) for row in location_rows
        )
    else:
        location_rows = []
        discrepancy, payments = selectors.overviews(sessions)

    paginator = Paginator(selectors.session_list_keys(sessions, ordering), PAGE_SIZE)
    # The overview has counted these very sessions: the paginator need not count them
    # again (a scan of a year of the chain).
    paginator.count = discrepancy.sessions
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = (
        selectors.session_list_rows(page.object_list, ordering) if paginator.count else []
    )
    for row in page:
        _format_list_row(row)

    operate_locations = [
        location
        for location in locations_for(request.user, roles=OPERATOR_ROLES)
        if location in scope.selected
    ]
    context = {
        "section": "reports",
        "scope": scope,
        "ranges": RANGES,
        "discrepancy": discrepancy,
        "payments": payments,
        "location_rows": location_rows,
        # Sums over locations only make sense in one currency.
        "currency": scope.currency,
        "page": page,
        "page_numbers": page.paginator.get_elided_page_range(page.number, on_each_side=2),
        "other_ranges": _other_ranges(scope),
        "ordering": ordering,
        "sort": _sort_links(scope, ordering),
        "charts": discrepancy_charts(
            sessions, period=scope.period, currency=scope.currency, locations=scope.selected
        )
        if page.paginator.count
        else None,
        "exports": _export_links(scope, ordering, narrowing),
        "filter_errors": [
            (name, narrowing.form.fields[name].label, error)
            for name, errors in narrowing.errors.items()
            for error in errors
        ],
        "filter_values": {name: request.GET.get(name, "") for name in NARROWING_PARAMETERS},
        "filter_keep": scope.params(page=None, **dict.fromkeys(NARROWING_PARAMETERS)),
        "filters": filters,
        "filter_options": _filter_options(filters, request.GET),
        "active_filters": _active_filters(scope, narrowing, filters),
        "clear_filters": scope.query(page=None, **dict.fromkeys(NARROWING_PARAMETERS)),
        "can_open_sessions": bool(operate_locations),
    }
    return render(request, "reports/overview.html", context)


def _format_list_row(row: TrackingSession) -> None:
    """The texts a row of the session list shows, formatted here in one pass: the same
    filters the template applied cell by cell, at half the cost of the page's rendering."""
    location = row.location
    # A shift that ends on the day it began shows only the closing time.
    tz = location.tzinfo
    row.closed_same_day = bool(
        row.closed_at and row.closed_at.astimezone(tz).date() == row.opened_at.astimezone(tz).date()
    )
    row.url = reverse("reports:session", args=[row.pk])
    row.opened_text = when(row.opened_at, location)
    row.closed_text = when(row.closed_at, location)
    row.closed_time_text = when_time(row.closed_at, location)
    row.status_text = capfirst(row.get_status_display())
    row.discrepancy_text = format_money(row.total_discrepancy, location.currency, sign=True)
    row.discrepancy_tone = tone(row.total_discrepancy)
    after = row.total_discrepancy_after_corrections
    row.after_corrections_text = format_money(after, location.currency, sign=True)
    row.after_corrections_tone = tone(after)


def _other_ranges(scope) -> list[tuple[str, str]]:
    """A few ranges to try when the chosen one is empty."""
    return [
        (str(RANGES[key]), scope.query(range=key, page=None, **{"from": None, "to": None}))
        for key in ("last_7_days", "this_month", "last_month")
        if key != scope.period.key
    ]


@dataclass(frozen=True)
class FilterChoices:
    """What the filter form offers: (id, name) of the registers and staff of the locations
    shown."""

    registers: list[tuple[int, str]]
    staff: list[tuple[int, str]]

    def register_name(self, pk: int) -> str:
        return dict(self.registers).get(pk, f"#{pk}")

    def staff_name(self, pk: int) -> str:
        return dict(self.staff).get(pk, f"#{pk}")


def _filter_choices(scope) -> FilterChoices:
    """Two queries, whatever the number of sessions: only the user's report locations.

    Names only, not model instances: a chain's 200 registers and 350 staff members made
    into objects cost more than reading them. A person's name is what get_full_name() or
    get_username() gives."""
    registers = list(
        Register.objects.filter(location__in=scope.selected)
        .order_by("name", "pk")
        .values_list("pk", "name")
    )
    staff = [
        (pk, f"{first_name} {last_name}".strip() or username)
        for pk, first_name, last_name, username in get_user_model()
        .objects.filter(memberships__location__in=scope.selected)
        .distinct()
        .order_by("first_name", "last_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    ]
    return FilterChoices(registers, staff)


def _filter_options(choices: FilterChoices, query) -> dict[str, SafeString]:
    """The <option> elements of the register and staff filters, made in one pass: a
    chain's hundreds of registers and staff, each looked up and compared in the template,
    took 40 ms of the all-locations page; as a template loop of three variables an
    option, its 900 options still took about 15 ms. Each value is localised and escaped
    as `{{ value }}` would be."""

    def options(name: str, items: list[tuple[int, str]]) -> SafeString:
        chosen = query.get(name, "")
        return format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (localize(pk), " selected" if chosen == str(pk) else "", label)
                for pk, label in items
            ),
        )

    return {
        "register": options("register", choices.registers),
        "opened_by": options("opened_by", choices.staff),
        "closed_by": options("closed_by", choices.staff),
    }


@dataclass(frozen=True)
class FilterChip:
    text: str
    remove_query: str  # the page without this filter


def _active_filters(scope, narrowing, choices: FilterChoices) -> list[FilterChip]:
    """A chip per filter in use, saying what it keeps, with a link that drops it."""
    texts = {
        "counted": {True: _("Counted"), False: _("Not counted")},
        "late": {True: _("With late sales"), False: _("Without late sales")},
        "status": {"open": _("Open"), "closed": _("Closed")},
    }
    chips = []
    for name, value in narrowing.active().items():
        if name == "register":
            text = _("Register: %(name)s") % {"name": choices.register_name(value)}
        elif name == "opened_by":
            text = _("Opened by %(name)s") % {"name": choices.staff_name(value)}
        elif name == "closed_by":
            text = _("Closed by %(name)s") % {"name": choices.staff_name(value)}
        elif name == "discrepancy":
            kind = dict(DiscrepancyChoice.choices)[value]
            text = _("Discrepancy: %(kind)s") % {"kind": kind}
        elif name == "min_discrepancy":
            # In the page's number format (10,00 in Dutch), as the amounts beside it.
            amount = number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
            text = _("Discrepancy of at least %(amount)s") % {"amount": amount}
        else:
            text = texts[name][value]
        chips.append(FilterChip(str(text), scope.query(page=None, **{name: None})))
    return chips


# The CSV downloads of the API (reports/api_urls.py): same selectors, same figures.
EXPORTS = {
    "discrepancy": "report-discrepancy-csv",
    "payments": "report-cash-payments-csv",
    "sessions": "report-sessions-csv",
    "corrections": "report-corrections-csv",
    "journal": "report-journal-csv",
}


def _export_links(scope, ordering: str, narrowing) -> dict[str, dict[str, str]]:
    """Each CSV download of the page for the same location, range and filters, plain and
    for spreadsheets set to Dutch or German; the session list keeps its current order."""
    links = {}
    applied = {name: scope.extra[name] for name in narrowing.active() if name in scope.extra}
    for key, name in EXPORTS.items():
        params = scope.api_query()
        if applied:
            params += "&" + urlencode(applied)
        if key == "sessions":
            params += "&" + urlencode({"ordering": ordering})
        url = f"{reverse(name)}?{params}"
        links[key] = {"csv": url, "excel_eu": f"{url}&dialect=excel-eu"}
    return links


# --- the session page -----------------------------------------------------------------


def _session_and_role(request: HttpRequest, pk: int) -> tuple[TrackingSession, str]:
    """For the session page: the session if it is at one of the user's locations,
    whatever their role there, and that role (404 when they have none).

    Only the register, the location and the people of the page are joined: PostgreSQL
    took 8 ms to plan the join of every related row of sessions_with_details (devices,
    the main session and its register), longer than the rest of the page's queries; those
    are read when the session has them."""
    sessions = with_corrections(
        TrackingSession.objects.select_related("register", "location", "opened_by", "closed_by")
    )
    session = get_object_or_404(sessions, pk=pk)
    role = role_at(request.user, session.location)
    if role is None:
        raise Http404
    return session, role


@login_required
@require_GET
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session, role = _session_and_role(request, pk)
    return _render_session(request, session, role=role, form=CorrectionForm())


@login_required
@require_POST
def add_correction_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A correction of a closed session: a new record, never an edit. Managers only."""
    session, role = _session_and_role(request, pk)
    if role != Membership.Role.MANAGER:
        raise PermissionDenied(_("Only a manager of this location can correct a session."))
    form = CorrectionForm(request.POST)
    if form.is_valid():
        try:
            add_correction(
                session=session,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            # The session's state forbids it (still open): no form input can fix that.
            messages.error(request, error.message)
            return redirect("reports:session", session.pk)
        else:
            messages.success(request, _("The correction was added."))
            return redirect(reverse("reports:session", args=[session.pk]) + "#corrections")
    # Refused input answers 400, like the register pages' forms: the page shows why.
    return _render_session(request, session, role=role, form=form, status=400)


def _render_session(
    request: HttpRequest, session: TrackingSession, *, role: str, form, status: int = 200
) -> HttpResponse:
    location = session.location
    register = session.register
    operate = session.is_open and role in OPERATOR_ROLES
    # Blind close: whoever counts must not see the target before submitting the count,
    # nor any figure of the session's cash it is summed from (rule 7).
    hide_expected = role == Membership.Role.CASHIER and is_blind(session)
    counts = list(session.counts.all())
    totals = method_totals(session)
    sales, refunds = totals.sales, totals.refunds
    methods = sorted(set(sales) | set(refunds), key=lambda name: (name != "cash", name))
    # What the page shows of a sub or a main register, and of a closed session (corrections
    # and notes are added only after the close), is not looked for where it cannot be.
    transfer_out = (
        ClosingTransfer.objects.select_related("main_session__register")
        .filter(sub_session=session)
        .first()
        if register.is_sub or session.main_session_id is not None
        else None
    )
    sub_sessions = (
        list(
            session.sub_sessions.select_related(
                "register", "opened_by", "closed_by", "closing_transfer"
            ).order_by("register__name", "opened_at")
        )
        if register.is_main
        else []
    )
    transfers_in = (
        list(
            session.transfers_in.select_related(
                "sub_session__register", "created_by", "created_by_device"
            ).order_by("created_at", "id")
        )
        if register.is_main
        else []
    )
    corrections = [] if session.is_open else list(session.corrections.select_related("created_by"))
    discrepancy_note = (
        None
        if session.is_open
        else DiscrepancyNote.objects.select_related("created_by", "created_by_device")
        .filter(session=session)
        .first()
    )
    # The link to explain a discrepancy past the threshold that has no explanation yet (a
    # confirmed close has its note), for who may: its closer or a manager.
    may_explain = (
        not session.is_open
        and discrepancy_note is None
        and not session.closing_note
        and passes_threshold(session)
        and (
            role == Membership.Role.MANAGER
            or (role in OPERATOR_ROLES and session.closed_by_id == request.user.pk)
        )
    )
    transactions = _transaction_page(request, session, count=totals.count)
    context = {
        "section": "reports" if role in REPORT_ROLES else "operations",
        "session": session,
        "location": location,
        "currency": location.currency,
        "role": role,
        "can_read_reports": role in REPORT_ROLES,
        "can_correct": role == Membership.Role.MANAGER and not session.is_open,
        "hide_expected": hide_expected,
        "counted_blind": counted_blind(session),
        "adjustments": list(session.adjustments.select_related("created_by", "created_by_device")),
        "transactions": transactions,
        "transaction_pages": transactions.paginator.get_elided_page_range(
            transactions.number, on_each_side=2
        ),
        "has_late": any(row.late for row in transactions),
        "opening_counts": _count_table(counts, CountLine.Stage.OPENING),
        "closing_counts": _count_table(counts, CountLine.Stage.CLOSING),
        "methods": [
            {"name": method_label(name), "sales": sales.get(name), "refunds": refunds.get(name)}
            for name in methods
        ],
        "sub_sessions": sub_sessions,
        "transfers_in": transfers_in,
        "transfer_out": transfer_out,
        "corrections": corrections,
        "discrepancy_note": discrepancy_note,
        "explain_url": reverse("operations:explain", args=[session.pk]) if may_explain else None,
        "corrected_discrepancy": session.total_discrepancy_after_corrections,
        "form": form,
        "adjust_url": reverse("operations:adjust", args=[session.pk]) if operate else None,
        "close_url": reverse("operations:close", args=[session.pk]) if operate else None,
        "overview_url": reverse("reports:overview") + f"?location={location.pk}",
        # Who did what to this session: for those who see every figure of it.
        "audit_trail": _audit_page(request, session) if role in REPORT_ROLES else None,
    }
    return render(request, "reports/session.html", context, status=status)


@dataclass(frozen=True)
class TransactionRow:
    """A row of the session page's transactions with its cells already in text: through
    the template's filters and an include of the actor per row, these 100 rows were most
    of the page's time. The text is what those filters make."""

    pk: int
    late: bool
    refund: bool
    is_cash: bool
    occurred: str
    received: str
    kind: str
    method: str
    amount: str
    receipt: str
    actor: str  # _actor.html, rendered once per person or device on the page


def _transaction_page(request: HttpRequest, session: TrackingSession, *, count: int) -> Page:
    """A page of the session's transactions (`?tx_page=`): a busy day has thousands, and
    the page showed them all. An open session shows the newest first, what whoever
    watches it wants; a closed one reads in order, as it happened. `count` is the number
    of the session's transactions (method_totals counts them), so no COUNT(*) again."""
    order = ("-occurred_at", "-id") if session.is_open else ("occurred_at", "id")
    rows = (
        Transaction.objects.filter(session=session)
        .order_by(*order)
        .values(
            "id",
            "kind",
            "payment_method",
            "amount",
            "occurred_at",
            "received_at",
            "external_id",
            "late",
            "recorded_by_id",
            "recorded_by__first_name",
            "recorded_by__last_name",
            "recorded_by__username",
            "recorded_by_device_id",
            "recorded_by_device__name",
            "recorded_by_device__prefix",
        )
    )
    paginator = Paginator(rows, TRANSACTIONS_PAGE_SIZE)
    paginator.count = count  # a cached property: set, it is not queried
    page = paginator.get_page(request.GET.get("tx_page"))
    location = session.location
    currency = location.currency
    kinds = {kind: capfirst(str(label)) for kind, label in Transaction.Kind.choices}
    methods: dict[str, str] = {}
    actors: dict[tuple[int | None, int | None], str] = {}
    formatted = []
    for row in page.object_list:
        method = row["payment_method"]
        if method not in methods:
            methods[method] = payment_method(method)
        who = (row["recorded_by_id"], row["recorded_by_device_id"])
        if who not in actors:
            actors[who] = _actor_html(row)
        formatted.append(
            TransactionRow(
                pk=row["id"],
                late=row["late"],
                refund=row["kind"] == Transaction.Kind.REFUND,
                is_cash=method == "cash",
                occurred=when(row["occurred_at"], location),
                received=when(row["received_at"], location) if row["late"] else "",
                kind=kinds.get(row["kind"], row["kind"]),
                method=methods[method],
                amount=money(row["amount"], currency),
                receipt=row["external_id"] or "—",
                actor=actors[who],
            )
        )
    page.object_list = formatted
    return page


def _actor_html(row: dict) -> str:
    """_actor.html of a transaction row's recorder, from the names read with the row."""
    user = device = None
    if row["recorded_by_id"] is not None:
        user = get_user_model()(
            pk=row["recorded_by_id"],
            first_name=row["recorded_by__first_name"],
            last_name=row["recorded_by__last_name"],
            username=row["recorded_by__username"],
        )
    if row["recorded_by_device_id"] is not None:
        device = ApiToken(
            pk=row["recorded_by_device_id"],
            name=row["recorded_by_device__name"],
            prefix=row["recorded_by_device__prefix"],
        )
    return render_to_string("_actor.html", {"actor": actor(user, device)})


def _audit_page(request: HttpRequest, session: TrackingSession) -> Page:
    """A page of the session's audit trail (`?audit_page=`): an entry per sale, so as long
    as the transactions, and paged like them, the newest first while the session is open.

    The page asked for is read first, and its count with it: the pager needs no query of
    its own, except for a page that is not there (it then shows the nearest, as before)."""
    trail = audit_trail(session, newest_first=session.is_open)
    wanted = request.GET.get("audit_page")
    try:
        number = int(wanted)  # as Paginator.validate_number reads it
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * TRANSACTIONS_PAGE_SIZE
    # A page far past the end is found by the count, not asked for: PostgreSQL's OFFSET
    # is a bigint, and `?audit_page=` any number.
    if number >= 1 and offset <= MAX_ID:
        trail.read(offset=offset, limit=TRANSACTIONS_PAGE_SIZE)
    return Paginator(trail, TRANSACTIONS_PAGE_SIZE).get_page(wanted)


def _count_table(counts: list[CountLine], stage: str) -> dict | None:
    lines = [line for line in counts if line.stage == stage]
    if not lines:
        return None
    return {"lines": lines, "total": sum((line.subtotal for line in lines), Decimal("0.00"))}
