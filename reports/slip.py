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

from cashdrawer.models import Membership
from cashdrawer.selectors import role_at
from reports.views import _method_label, _session_for
from sessions_app.models import (
    Adjustment,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import is_blind, totals_by_method

PAPERS = ("a4", "80mm")
DEFAULT_PAPER = "a4"
HASH_SHOWN = 12  # characters of the closing hash printed: enough to compare by eye

# Who did something: a person, or (when the model records it) the device token it was
# done with; the device is only named when no person is.
_DEVICE_OF = {
    "opened_by": "opened_by_device",
    "closed_by": "closed_by_device",
    "created_by": "created_by_device",
    "recorded_by": "recorded_by_device",
}


def _has_field(model: type, name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())


def _with_devices(model: type, *names: str) -> list[str]:
    """The `*_by` relations of `model` to join, with their device twins where they exist."""
    related = list(names)
    related += [_DEVICE_OF[name] for name in names if _has_field(model, _DEVICE_OF[name])]
    return related


def who(record: Any, relation: str) -> str:
    """The name of whoever did what `relation` records ("" when nobody is known)."""
    user = getattr(record, relation, None)
    if user is not None:
        return user.get_full_name() or user.get_username()
    device = getattr(record, _DEVICE_OF[relation], None)
    if device is not None:
        return device.name or _("Device token %(prefix)s") % {"prefix": device.prefix}
    return ""


@dataclass(frozen=True)
class MethodRow:
    name: str
    sales: Decimal
    refunds: Decimal


@dataclass(frozen=True)
class CorrectionRow:
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
    closing_number: int | None
    closing_hash: str  # the first HASH_SHOWN characters, "" when the session has none
    blind_close: bool
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
    # Whether a sub session's cash removed is its own figure (0.00, the cash handed over
    # being "transferred to main") rather than the amount transferred (DOMAIN.md rule 9).
    sub_cash_removed_stored: bool


def _methods(sales: dict[str, Decimal], refunds: dict[str, Decimal]) -> list[MethodRow]:
    names = sorted(set(sales) | set(refunds), key=lambda name: (name != "cash", name))
    zero = Decimal("0.00")
    return [
        MethodRow(_method_label(name), sales.get(name, zero), refunds.get(name, zero))
        for name in names
    ]


def _block(
    session: TrackingSession,
    *,
    sales: dict[str, Decimal],
    refunds: dict[str, Decimal],
    transferred: Decimal | None = None,
) -> SessionBlock:
    closing_hash = getattr(session, "closing_hash", "") or ""
    blind = getattr(session, "blind_close", None)
    return SessionBlock(
        session=session,
        opened_by=who(session, "opened_by"),
        closed_by=who(session, "closed_by"),
        methods=_methods(sales, refunds),
        closing_number=getattr(session, "closing_number", None),
        closing_hash=closing_hash[:HASH_SHOWN],
        blind_close=session.register.blind_close if blind is None else blind,
        transferred_to_main=transferred,
    )


def _transferred(session: TrackingSession) -> Decimal | None:
    """What a closed sub session handed to its main session: the stored figure where the
    model keeps one, else its closing transfer (the same amount)."""
    if session.main_session_id is None:
        return None
    stored = getattr(session, "transferred_to_main", None)
    if stored is not None:
        return stored
    transfer = getattr(session, "closing_transfer", None)
    return transfer.amount if transfer is not None else None


def closing_slip(session: TrackingSession) -> ClosingSlip:
    """Everything a closed session's slip prints, in a handful of queries."""
    sub_sessions = list(
        session.sub_sessions.select_related(
            "register",
            "closing_transfer",
            *_with_devices(TrackingSession, "opened_by", "closed_by"),
        ).order_by("register__name", "opened_at", "id")
    )
    everyone = [session, *sub_sessions]
    sales = totals_by_method(everyone, Transaction.Kind.SALE)
    refunds = totals_by_method(everyone, Transaction.Kind.REFUND)

    main = _block(
        session,
        sales=sales.get(session.pk, {}),
        refunds=refunds.get(session.pk, {}),
        transferred=_transferred(session),
    )
    main.adjustments = [
        AdjustmentRow(a.created_at, a.direction, a.amount, a.reason, who(a, "created_by"))
        for a in session.adjustments.select_related(*_with_devices(Adjustment, "created_by"))
    ]
    subs = [
        _block(
            sub,
            sales=sales.get(sub.pk, {}),
            refunds=refunds.get(sub.pk, {}),
            transferred=_transferred(sub),
        )
        for sub in sub_sessions
    ]

    count = list(session.counts.filter(stage=CountLine.Stage.CLOSING).order_by("-value"))
    corrections = [
        CorrectionRow(c.created_at, c.amount, c.reason, who(c, "created_by"))
        for c in session.corrections.select_related(*_with_devices(Correction, "created_by"))
    ]
    corrections_total = sum((c.amount for c in corrections), Decimal("0.00"))
    return ClosingSlip(
        main=main,
        count=count,
        count_total=sum((line.subtotal for line in count), Decimal("0.00")) if count else None,
        corrections=corrections,
        corrections_total=corrections_total,
        discrepancy_after_corrections=session.total_discrepancy + corrections_total,
        subs=subs,
        sub_cash_removed_stored=_has_field(TrackingSession, "transferred_to_main"),
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
    session = _session_for(request, pk)
    if session.is_open:
        return _unavailable(
            request,
            session,
            _("This session is still open: its closing slip exists once it is closed."),
        )
    # A closed sub session whose main register counts blind and is still being counted:
    # its figures are the target of that count, hidden from the cashier (rule 7).
    if role_at(request.user, session.location) == Membership.Role.CASHIER and is_blind(session):
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
