"""Back-office pages: register operations (open, adjust, count and close).

Managers and cashiers of a location operate its registers; an accountant there gets 403,
anyone else 404. Each view fetches the object scoped to the user, validates a form, calls
one service and redirects with a message, or shows the form again with the error beside
the field it concerns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from alerts.selectors import unseen_for
from alerts.services import raise_open_too_long_alerts
from cashdrawer.models import Location, Membership, Register
from cashdrawer.scope import RANGES, scope_from_request
from cashdrawer.selectors import (
    MANAGER_ROLES,
    OPERATOR_ROLES,
    locations_for,
    registers_for,
    role_at,
)
from cashdrawer.templatetags.cashdrawer import format_money, number
from sessions_app import services
from sessions_app.exceptions import (
    CashdrawerError,
    DiscrepancyNeedsConfirmation,
    InvalidInput,
)
from sessions_app.forms import (
    ADJUST_FIELDS,
    CLOSE_FIELDS,
    OPEN_FIELDS,
    AdjustmentForm,
    CloseSessionForm,
    ExplainDiscrepancyForm,
    OpenSessionForm,
    breakdown,
    count_rows,
)
from sessions_app.models import DiscrepancyNote, TrackingSession
from sessions_app.selectors import (
    CashToday,
    cash_today,
    counted_blind,
    is_blind,
    open_session_of,
    passes_threshold,
    recent_closes,
)

# --- access ----------------------------------------------------------------------------


def _require_operator(request: HttpRequest, location: Location) -> str:
    """The user's role at `location`: 404 when they have none, 403 for an accountant."""
    role = role_at(request.user, location)
    if role is None:
        raise Http404
    if role not in OPERATOR_ROLES:
        raise PermissionDenied(_("Only managers and cashiers operate registers."))
    return role


def _register_for(request: HttpRequest, pk: int) -> tuple[Register, str]:
    registers = registers_for(request.user).select_related("main_register")
    register = get_object_or_404(registers, pk=pk)
    return register, _require_operator(request, register.location)


def _session_for(request: HttpRequest, pk: int) -> tuple[TrackingSession, str]:
    """The session and the user's role at its location: 404 when they have none (as for
    a session of another location), 403 for an accountant.

    Only what every session has is joined: PostgreSQL took 5 ms to plan the join of the
    main register, the main session and its register, the devices and the user's
    locations, longer than the close itself took to run; a sub's main register or session
    is read when there is one."""
    sessions = TrackingSession.objects.select_related("register__location", "location", "opened_by")
    session = get_object_or_404(sessions, pk=pk)
    return session, _require_operator(request, session.location)


def _is_blind(session: TrackingSession, role: str) -> bool:
    """Blind close hides the expected cash from whoever counts, except a manager
    (the rule itself: sessions_app.selectors.is_blind)."""
    return role != Membership.Role.MANAGER and is_blind(session)


def _session_url(session_id: int) -> str | None:
    try:
        return reverse("reports:session", args=[session_id])
    except NoReverseMatch:
        return None


def _registers_url(location: Location) -> str:
    return f"{reverse('operations:registers')}?location={location.pk}"


def _service_error(form, error: CashdrawerError, fields: dict[str, str]) -> int:
    """Show a service's refusal on the form; the response status to answer with."""
    if isinstance(error, InvalidInput):
        name = fields.get(error.field)
        form.add_error(name if name in form.fields else None, error.message)
    else:
        form.add_error(None, error.message)
    return error.status


# --- the registers page ------------------------------------------------------------------


@dataclass
class RegisterCard:
    register: Register
    session: TrackingSession | None
    last_closed_at: dt.datetime | None
    left_in_drawer: Decimal | None  # the last close's retained float: the next opening float
    blind: bool  # its cash figures are hidden from this user now
    counted_blind: bool = False  # its open session counts blind (the badge)
    session_url: str | None = None
    main_open: bool = False  # for a sub-register: may it open now (rule 8)?
    subs: list[RegisterCard] = field(default_factory=list)
    # The Now page's figures (left empty on the registers page):
    recent_closes: list[TrackingSession] = field(default_factory=list)  # newest first
    cash_today: CashToday | None = None

    @property
    def expected_cash(self) -> Decimal | None:
        return self.session.current_expected_cash if self.session else None

    @property
    def subs_open(self) -> bool:
        """A main register's figure holds a sub's cash only once that sub has closed."""
        return any(sub.session is not None for sub in self.subs)

    @property
    def has_transfers(self) -> bool:
        return self.session is not None and bool(self.session.sub_register_cash)

    @property
    def expected_label(self) -> str:
        """What the expected cash holds: a main register's own cash, or its subs' too."""
        if not self.register.is_main:
            return _("Expected cash so far")
        if not self.subs_open:
            return _("Expected, incl. subs")
        if self.has_transfers:
            return _("Expected, without open subs")
        return _("Expected, own cash")

    @property
    def last_close(self) -> TrackingSession | None:
        return self.recent_closes[0] if self.recent_closes else None

    @property
    def sparkline(self) -> Sparkline | None:
        return sparkline([s.total_discrepancy for s in reversed(self.recent_closes)])


def _register_cards(
    locations: list[Location],
    roles: dict[int, str],
    *,
    now_figures: bool = False,
    now: dt.datetime | None = None,
) -> dict[int, list[RegisterCard]]:
    """Per location, every register with its open session and last close, subs under
    their mains; with `now_figures`, also its last three closes and today's cash. A few
    queries for all locations together, however many registers and stores there are."""
    last_close = TrackingSession.objects.filter(
        register=OuterRef("pk"), status=TrackingSession.Status.CLOSED
    ).order_by("-closed_at", "-id")
    registers = list(
        Register.objects.filter(location__in=locations)
        .select_related("main_register")
        .annotate(
            last_closed_at=Subquery(last_close.values("closed_at")[:1]),
            last_retained_float=Subquery(last_close.values("retained_float")[:1]),
        )
        .order_by("name", "pk")
    )
    open_sessions = {
        session.register_id: session
        for session in TrackingSession.objects.filter(
            location__in=locations, status=TrackingSession.Status.OPEN
        ).select_related("opened_by", "opened_by_device", "register", "main_session__register")
    }
    closes: dict[int, list[TrackingSession]] = {}
    today: dict[int, CashToday] = {}
    if now_figures and registers:
        closes = recent_closes([register.pk for register in registers])
        today = cash_today(locations, now=now)
    cards = {}
    for register in registers:
        session = open_sessions.get(register.pk)
        cards[register.pk] = RegisterCard(
            register=register,
            session=session,
            last_closed_at=register.last_closed_at,
            left_in_drawer=register.last_retained_float,
            blind=session is not None and _is_blind(session, roles[register.location_id]),
            counted_blind=session is not None and counted_blind(session),
            session_url=_session_url(session.pk) if session else None,
            main_open=register.main_register_id in open_sessions,
            recent_closes=closes.get(register.pk, []),
            cash_today=today.get(register.pk, CashToday()) if now_figures else None,
        )
    top: dict[int, list[RegisterCard]] = {location.pk: [] for location in locations}
    for register in registers:
        card = cards[register.pk]
        if register.is_sub and register.main_register_id in cards:
            cards[register.main_register_id].subs.append(card)
        else:
            top[register.location_id].append(card)
    return top


def _flat(cards: list[RegisterCard]):
    for card in cards:
        yield card
        yield from card.subs


@login_required
@require_http_methods(["GET", "HEAD"])
def registers(request: HttpRequest) -> HttpResponse:
    if not locations_for(request.user).exists():
        return render(request, "no_locations.html", status=403)
    chosen = request.GET.get("location", "")
    # isascii: "²" is a digit to isdigit(), but not to the database's integer lookup.
    is_id = chosen.isascii() and chosen.isdigit()
    asked = locations_for(request.user).filter(pk=chosen).first() if is_id else None
    operated = locations_for(request.user, roles=OPERATOR_ROLES)
    if not operated.exists() or (asked is not None and not operated.filter(pk=asked.pk).exists()):
        # A reader of reports at this location: say where their work is (403, not 404).
        context = {"section": "operations", "location": asked}
        return render(request, "sessions_app/no_access.html", context, status=403)
    scope = scope_from_request(request, roles=OPERATOR_ROLES, allow_all=False)
    location = scope.location
    role = role_at(request.user, location)
    cards = _register_cards([location], {location.pk: role})[location.pk]
    context = {
        "section": "operations",
        "scope": scope,
        "ranges": RANGES,
        "hide_range": True,
        "location": location,
        "currency": location.currency,
        "role": role,
        "cards": cards,
        "open_count": sum(1 for card in _flat(cards) if card.session),
        "register_count": sum(1 for _card in _flat(cards)),
        "is_manager": role == Membership.Role.MANAGER,
        "admin_url": _admin_registers_url(request, location),
    }
    return render(request, "sessions_app/registers.html", context)


def _admin_registers_url(request: HttpRequest, location: Location) -> str | None:
    if not request.user.is_staff:
        return None
    try:
        return (
            reverse("admin:cashdrawer_register_changelist") + f"?location__id__exact={location.pk}"
        )
    except NoReverseMatch:
        return None


# --- the Now page ------------------------------------------------------------------------

# The board asks for itself again this often (seconds); tests shorten it.
NOW_REFRESH_SECONDS = 30


@dataclass(frozen=True)
class SparkBar:
    x: float
    y: float
    width: float
    height: float
    tone: str  # short, over or even (static/css/operations.css colours them)
    value: Decimal


@dataclass(frozen=True)
class Sparkline:
    """A few discrepancies as bars above (over) and below (short) a zero line, oldest
    left; drawn as an inline SVG with attributes only, no style (the page's CSP)."""

    bars: list[SparkBar]
    values: list[Decimal]
    width: int = 66
    height: int = 26

    @property
    def middle(self) -> float:
        return self.height / 2


def sparkline(values: list[Decimal], *, slots: int = 3) -> Sparkline | None:
    """Bars scaled to the largest discrepancy shown; right-aligned, so the newest close is
    always the last bar. None without any close."""
    if not values:
        return None
    values = values[-slots:]
    line = Sparkline(bars=[], values=values)
    largest = max(abs(value) for value in values)
    half = line.middle - 1  # room above and below the zero line
    slot = line.width / slots
    bar_width = slot * 0.6
    first_slot = slots - len(values)
    for index, value in enumerate(values):
        x = (first_slot + index) * slot + (slot - bar_width) / 2
        if value == 0 or largest == 0:
            bar = SparkBar(x, line.middle - 1, bar_width, 2, "even", value)
        else:
            height = max(float(abs(value) / largest) * half, 2.0)
            y = line.middle - height if value > 0 else line.middle
            bar = SparkBar(x, y, bar_width, height, "over" if value > 0 else "short", value)
        line.bars.append(bar)
    return line


@dataclass
class StoreBoard:
    location: Location
    cards: list[RegisterCard]

    @property
    def register_count(self) -> int:
        return sum(1 for _card in _flat(self.cards))

    @property
    def open_count(self) -> int:
        return sum(1 for card in _flat(self.cards) if card.session)

    @property
    def cash_sales_today(self) -> Decimal:
        return sum((card.cash_today.sales for card in _flat(self.cards)), Decimal("0.00"))

    @property
    def cash_refunds_today(self) -> Decimal:
        return sum((card.cash_today.refunds for card in _flat(self.cards)), Decimal("0.00"))


def _board_only(request: HttpRequest) -> bool:
    return request.GET.get("fragment") == "1"


@login_required
@require_http_methods(["GET", "HEAD"])
def now(request: HttpRequest) -> HttpResponse:
    """Every register of every store the user manages, grouped by store; the page asks
    for its board again every NOW_REFRESH_SECONDS (?fragment=1: the board alone)."""
    managed = list(locations_for(request.user, roles=MANAGER_ROLES).order_by("name", "pk"))
    if not managed:
        return render(request, "sessions_app/now_no_access.html", {"section": "now"}, status=403)
    # Only the stores this user manages, so their role is manager at each (a superuser is
    # treated as one everywhere); the blind rule still decides what they see.
    roles = {location.pk: Membership.Role.MANAGER for location in managed}
    now = timezone.now()
    cards = _register_cards(managed, roles, now_figures=True, now=now)
    stores = [StoreBoard(location=location, cards=cards[location.pk]) for location in managed]
    zones = {location.timezone for location in managed}
    if not _board_only(request):
        # Without a timer (make run) the page itself raises "open too long"; the board's
        # refresh only reads. Idempotent: an alert is raised once per session.
        raise_open_too_long_alerts(now=now)
    context = {
        "section": "now",
        # The newest unseen alerts of the stores whose alerts this user receives.
        "alerts": unseen_for(request.user),
        "stores": stores,
        "updated_at": now,
        # One time zone for the "updated" time: the stores' own, when they share one.
        "updated_zone": zones.pop() if len(zones) == 1 else "UTC",
        "refresh_seconds": NOW_REFRESH_SECONDS,
    }
    if _board_only(request):
        response = render(request, "sessions_app/_now_board.html", context)
        # The page swaps in only an answer that says it is the board (not the login page
        # after the session ended, nor an error page).
        response["X-Now-Board"] = "1"
    else:
        response = render(request, "sessions_app/now.html", context)
    response["Cache-Control"] = "no-store"
    return response


# --- opening -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def open_session(request: HttpRequest, pk: int) -> HttpResponse:
    register, _role = _register_for(request, pk)
    location = register.location
    if request.method != "POST" and open_session_of(register.pk):
        messages.info(request, _("%(register)s is already open.") % {"register": register.name})
        return redirect(_registers_url(location))
    rows = count_rows(location.currency)
    previous = services.previous_closing_float(register)
    suggested = previous if previous is not None else register.default_float
    status = 200
    if request.method == "POST":
        form = OpenSessionForm(request.POST, register=register, rows=rows)
        if form.is_valid():
            try:
                session = services.open_session(
                    register=register, **form.service_kwargs(), by=request.user
                )
            except CashdrawerError as error:
                status = _service_error(form, error, OPEN_FIELDS)
            else:
                messages.success(request, _opened_message(session))
                return redirect(_registers_url(location))
        else:
            status = 400
    else:
        initial = breakdown(suggested, rows)
        if suggested is not None:
            initial["opening_float"] = number(suggested, location.currency)
        form = OpenSessionForm(initial=initial, register=register, rows=rows)
    main_session = None
    if register.is_sub:
        main_session = open_session_of(register.main_register_id)
    context = {
        "section": "operations",
        "register": register,
        "location": location,
        "currency": location.currency,
        "form": form,
        "previous": previous,
        "suggested": suggested,
        "main_open": main_session is not None,
        "main_open_url": reverse("operations:open", args=[register.main_register_id])
        if register.is_sub
        else None,
        "registers_url": _registers_url(location),
    }
    return render(request, "sessions_app/open.html", context, status=status)


def _opened_message(session: TrackingSession) -> str:
    currency = session.location.currency
    message = _("%(register)s is open with a float of %(amount)s.") % {
        "register": session.register.name,
        "amount": format_money(session.opening_float, currency),
    }
    if session.start_discrepancy:
        message += " " + _("Start discrepancy %(amount)s against the previous closing float.") % {
            "amount": format_money(session.start_discrepancy, currency, sign=True)
        }
    return message


# --- adjusting ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def adjust(request: HttpRequest, pk: int) -> HttpResponse:
    session, role = _session_for(request, pk)
    location = session.location
    status = 200
    if request.method == "POST":
        form = AdjustmentForm(request.POST)
        if form.is_valid():
            try:
                adjustment = services.adjust_float(
                    session=session,
                    direction=form.cleaned_data["direction"],
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    sees_expected=role == Membership.Role.MANAGER,
                )
            except CashdrawerError as error:
                status = _service_error(form, error, ADJUST_FIELDS)
            else:
                template = (
                    _("%(amount)s put into %(register)s: %(reason)s.")
                    if adjustment.direction == "in"
                    else _("%(amount)s taken from %(register)s: %(reason)s.")
                )
                messages.success(
                    request,
                    template
                    % {
                        "amount": format_money(adjustment.amount, location.currency),
                        "register": session.register.name,
                        "reason": adjustment.reason,
                    },
                )
                return redirect(_registers_url(location))
        else:
            status = 400
    else:
        form = AdjustmentForm(initial={"direction": "in"})
    context = {
        "section": "operations",
        "session": session,
        "register": session.register,
        "location": location,
        "currency": location.currency,
        "form": form,
        "blind": _is_blind(session, role),
        "session_url": _session_url(session.pk),
        "registers_url": _registers_url(location),
    }
    return render(request, "sessions_app/adjust.html", context, status=status)


# --- counting and closing ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def close(request: HttpRequest, pk: int) -> HttpResponse:
    session, role = _session_for(request, pk)
    register = session.register
    location = session.location
    if not session.is_open:
        # Whatever a close sent again holds, nothing typed can change a closed session.
        return _already_closed(request, session)
    rows = count_rows(location.currency)
    status = 200
    confirmation = None
    blind = _is_blind(session, role)
    if request.method == "POST":
        form = CloseSessionForm(request.POST, register=register, rows=rows)
        if form.is_valid():
            try:
                closed = services.close_session(
                    session=session,
                    **form.service_kwargs(),
                    sees_expected=role == Membership.Role.MANAGER,
                    by=request.user,
                )
            except DiscrepancyNeedsConfirmation as error:
                # A second look: the same form again, as typed, with the figures and a
                # note to confirm them. Never on a blind close (the service does not ask).
                confirmation = _confirmation(error, location.currency)
                if form.cleaned_data.get("confirm_discrepancy"):
                    form.add_error("note", _("Explain the difference in a note to confirm it."))
                status = error.status
            except CashdrawerError as error:
                session.refresh_from_db()
                if not session.is_open:
                    # Closed meanwhile (a double click, a second tab): the form would
                    # show an open session that is not; show the closed one instead.
                    return _already_closed(request, session)
                status = _service_error(form, error, CLOSE_FIELDS)
            else:
                if blind and passes_threshold(closed):
                    # Counted blind past the threshold: what happened is asked for now,
                    # before the figures are shown, so the story is not fitted to them.
                    messages.success(
                        request, _("%(register)s is closed.") % {"register": register.name}
                    )
                    return redirect("operations:explain", closed.pk)
                messages.success(request, _closed_message(closed, blind=_is_blind(closed, role)))
                return redirect(_session_url(closed.pk) or _registers_url(location))
        else:
            status = 400
    else:
        initial = {}
        if register.default_float is not None:
            initial["retained_float"] = number(register.default_float, location.currency)
        form = CloseSessionForm(initial=initial, register=register, rows=rows)
    context = {
        "section": "operations",
        "session": session,
        "register": register,
        "location": location,
        "currency": location.currency,
        "form": form,
        "blind": blind,
        "confirmation": confirmation,
        "session_url": _session_url(session.pk),
        "registers_url": _registers_url(location),
        **_shared_closing(session),
    }
    return render(request, "sessions_app/close.html", context, status=status)


def _confirmation(error: DiscrepancyNeedsConfirmation, currency: str) -> dict:
    """The figures of the confirmation panel."""
    return {
        "counted": error.counted,
        "expected": error.expected,
        "difference": abs(error.end_discrepancy),
        "short": error.end_discrepancy < 0,
        "over": error.end_discrepancy > 0,
        "total_discrepancy": error.total_discrepancy,
        # The end difference alone is within the threshold: the start discrepancy took
        # the session's total past it.
        "by_total": abs(error.end_discrepancy) <= error.threshold,
        "threshold": error.threshold,
    }


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def explain(request: HttpRequest, pk: int) -> HttpResponse:
    """After a blind count past the threshold: what happened, without the figures."""
    session, _role = _session_for(request, pk)
    done = _session_url(session.pk) or _registers_url(session.location)
    if session.is_open or not passes_threshold(session):
        return redirect(done)
    if DiscrepancyNote.objects.filter(session=session).exists():
        messages.info(request, _("This session's discrepancy has been explained already."))
        return redirect(done)
    status = 200
    if request.method == "POST":
        form = ExplainDiscrepancyForm(request.POST)
        if form.is_valid():
            try:
                services.explain_discrepancy(
                    session=session, note=form.cleaned_data["note"], by=request.user
                )
            except CashdrawerError as error:
                status = _service_error(form, error, {"note": "note"})
            else:
                messages.success(request, _("Thank you: your note is kept with the session."))
                return redirect(done)
        else:
            status = 400
    else:
        form = ExplainDiscrepancyForm()
    context = {
        "section": "operations",
        "session": session,
        "register": session.register,
        "location": session.location,
        "form": form,
        "session_url": _session_url(session.pk),
        "registers_url": _registers_url(session.location),
    }
    return render(request, "sessions_app/explain.html", context, status=status)


def _already_closed(request: HttpRequest, session: TrackingSession) -> HttpResponse:
    """To the closed session's page, where it is shown as it was closed (every role at the
    location reads it; a cashier sees it after their own close too); to the registers page
    where the site has no session pages."""
    messages.info(request, _("This session is already closed."))
    return redirect(_session_url(session.pk) or _registers_url(session.location))


def _shared_closing(session: TrackingSession) -> dict:
    """For a main session: what each closed sub transferred, and which subs are still open."""
    if not session.register.is_main:
        return {"transfers": [], "open_subs": []}
    transfers = list(
        session.transfers_in.select_related("sub_session__register").order_by("created_at", "id")
    )
    open_subs = [
        {"session": sub, "close_url": reverse("operations:close", args=[sub.pk])}
        for sub in session.sub_sessions.filter(status=TrackingSession.Status.OPEN)
        .select_related("register")
        .order_by("register__name")
    ]
    return {"transfers": transfers, "open_subs": open_subs}


def _closed_message(session: TrackingSession, *, blind: bool) -> str:
    currency = session.location.currency
    name = session.register.name
    if session.register.is_sub:
        if blind:  # the main register is still to be counted blind
            return _("%(register)s is closed: its cash went to %(main)s, to be counted there.") % {
                "register": name,
                "main": session.register.main_register.name,
            }
        return _("%(register)s is closed: %(amount)s went to %(main)s, to be counted there.") % {
            "register": name,
            "amount": format_money(session.expected_cash, currency),
            "main": session.register.main_register.name,
        }
    if session.counted_cash is None:
        return _(
            "%(register)s is closed without a count (expected cash %(expected)s); "
            "it is reported as not counted."
        ) % {"register": name, "expected": format_money(session.expected_cash, currency)}
    figures = {
        "register": name,
        "counted": format_money(session.counted_cash, currency),
        "expected": format_money(session.expected_cash, currency),
        "difference": format_money(abs(session.end_discrepancy), currency),
    }
    if session.end_discrepancy < 0:
        text = _(
            "%(register)s is closed. Counted %(counted)s, expected %(expected)s: "
            "%(difference)s short."
        )
    elif session.end_discrepancy > 0:
        text = _(
            "%(register)s is closed. Counted %(counted)s, expected %(expected)s: "
            "%(difference)s over."
        )
    else:
        text = _("%(register)s is closed. Counted %(counted)s, exactly as expected.")
    return text % figures
