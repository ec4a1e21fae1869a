"""The closing slip (Z-report) of a closed session, to print and sign.

One page per close: a standalone session's, or a shared close, where a main session's
slip also carries a block for each of its sub sessions. It reads the figures stored at
close (rule 6) and the records beside them, never recomputing them, so the paper says
what the session page, the API and the CSV files say. Who may print it is who may see the
session page (same scope, same 404), and the paper is A4 or an 80 mm receipt roll
(static/css/slip.css, chosen with `?paper=`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cashdrawer.actors import Actor, actor
from cashdrawer.bounds import method_label
from cashdrawer.models import Membership
from reports.views import _session_and_role
from sessions_app.models import Adjustment, CountLine, TrackingSession, Transaction
from sessions_app.selectors import counted_blind, is_blind, totals_by_method

PAPERS = ("a4", "80mm")
DEFAULT_PAPER = "a4"
HASH_SHOWN = 12  # characters of the closing hash printed: enough to compare by eye


def who(done_by: Actor | None) -> str:
    """Whoever did it (a record's `*_by_actor`), as every page names them: a person, or the
    device (its token's name) a terminal acted with; "" when nobody is known."""
    return done_by.name if done_by is not None else ""


@dataclass(frozen=True)
class MethodRow:
    name: str
    sales: Decimal
    refunds: Decimal


@dataclass(frozen=True)
class CorrectionRow:
    number: int
    created_at: Any
    amount: Decimal
    reason: str
    by: str


@dataclass(frozen=True)
class AdjustmentRow:
    created_at: Any
    direction: str
    amount: Decimal
    reason: str
    by: str

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.direction == Adjustment.Direction.IN else -self.amount


@dataclass
class SessionBlock:
    """What the slip prints about one session (the closed one, or one of its subs)."""

    session: TrackingSession
    opened_by: str
    closed_by: str
    methods: list[MethodRow]
    closing_number: int
    closing_hash: str  # its first HASH_SHOWN characters
    # A sub session: what it handed to its main session at close (rule 9).
    transferred_to_main: Decimal | None = None
    adjustments: list[AdjustmentRow] = field(default_factory=list)


@dataclass
class ClosingSlip:
    main: SessionBlock
    count: list[CountLine]
    count_total: Decimal | None
    corrections: list[CorrectionRow]
    corrections_total: Decimal
    discrepancy_after_corrections: Decimal
    subs: list[SessionBlock]


def _methods(sales: dict[str, Decimal], refunds: dict[str, Decimal]) -> list[MethodRow]:
    names = sorted(set(sales) | set(refunds), key=lambda name: (name != "cash", name))
    zero = Decimal("0.00")
    return [
        MethodRow(method_label(name), sales.get(name, zero), refunds.get(name, zero))
        for name in names
    ]


def _block(
    session: TrackingSession, *, sales: dict[str, Decimal], refunds: dict[str, Decimal]
) -> SessionBlock:
    return SessionBlock(
        session=session,
        opened_by=who(session.opened_by_actor),
        closed_by=who(session.closed_by_actor),
        methods=_methods(sales, refunds),
        closing_number=session.closing_number,
        closing_hash=session.closing_hash[:HASH_SHOWN],
        # What a sub session handed to its main session (rule 9); nothing for others.
        transferred_to_main=session.transferred_to_main if session.main_session_id else None,
    )


def closing_slip(session: TrackingSession) -> ClosingSlip:
    """Everything a closed session's slip prints, in a handful of queries."""
    sub_sessions = list(
        session.sub_sessions.select_related(
            "register", "opened_by", "opened_by_device", "closed_by", "closed_by_device"
        ).order_by("register__name", "opened_at", "id")
    )
    everyone = [session, *sub_sessions]
    sales = totals_by_method(everyone, Transaction.Kind.SALE)
    refunds = totals_by_method(everyone, Transaction.Kind.REFUND)

    def block(of: TrackingSession) -> SessionBlock:
        return _block(of, sales=sales.get(of.pk, {}), refunds=refunds.get(of.pk, {}))

    main = block(session)
    main.adjustments = [
        AdjustmentRow(a.created_at, a.direction, a.amount, a.reason, who(a.created_by_actor))
        for a in session.adjustments.select_related("created_by", "created_by_device")
    ]
    count = list(session.counts.filter(stage=CountLine.Stage.CLOSING).order_by("-value"))
    corrections = [
        CorrectionRow(
            c.correction_number, c.created_at, c.amount, c.reason, who(actor(c.created_by, None))
        )
        for c in session.corrections.select_related("created_by")
    ]
    corrections_total = sum((c.amount for c in corrections), Decimal("0.00"))
    return ClosingSlip(
        main=main,
        count=count,
        count_total=sum((line.subtotal for line in count), Decimal("0.00")) if count else None,
        corrections=corrections,
        corrections_total=corrections_total,
        discrepancy_after_corrections=session.total_discrepancy + corrections_total,
        subs=[block(sub) for sub in sub_sessions],
    )


def _unavailable(request: HttpRequest, session: TrackingSession, reason: str) -> HttpResponse:
    """No slip for this session (yet): a 404, since there is no such page, that says why."""
    context = {
        "session": session,
        "location": session.location,
        "reason": reason,
        "session_url": reverse("reports:session", args=[session.pk]),
    }
    return render(request, "reports/slip_unavailable.html", context, status=404)


@login_required
@require_GET
def closing_slip_view(request: HttpRequest, pk: int) -> HttpResponse:
    session, role = _session_and_role(request, pk)
    if session.is_open:
        return _unavailable(
            request,
            session,
            _("This session is still open: its closing slip exists once it is closed."),
        )
    # A closed sub session whose main register counts blind and is still being counted:
    # its figures are the target of that count, hidden from the cashier (rule 7).
    if role == Membership.Role.CASHIER and is_blind(session):
        return _unavailable(
            request,
            session,
            _(
                "Its cash is counted blind at the main register: the slip can be printed once"
                " that count is submitted."
            ),
        )
    paper = request.GET.get("paper", DEFAULT_PAPER)
    if paper not in PAPERS:
        paper = DEFAULT_PAPER
    location = session.location
    context = {
        "session": session,
        "register": session.register,
        "location": location,
        "currency": location.currency,
        "slip": closing_slip(session),
        # Said on the paper: a sub session is counted blind when its main session is.
        "counted_blind": counted_blind(session),
        "paper": paper,
        "papers": [
            ("a4", _("A4"), "?paper=a4"),
            ("80mm", _("80 mm receipt"), "?paper=80mm"),
        ],
        "sign_titles": [_("Counted by"), _("Checked by")],
        "printed_at": timezone.now(),
        "printed_by": request.user.get_full_name() or request.user.get_username(),
        "session_url": reverse("reports:session", args=[session.pk]),
    }
    return render(request, "reports/slip.html", context)
