"""Tracking sessions and everything that moves cash during one.

Money rows are append-only. A session keeps running totals that are only ever changed
with F() updates while its row is locked (see services.py), and the figures it reports
after closing are stored on it, so overviews read one row per session. Check
constraints make the database refuse figures that do not add up.
"""

from __future__ import annotations

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Length, Round
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from cashdrawer.actors import Actor, actor
from cashdrawer.models import Location, Register, amount_field, figure_field

User = settings.AUTH_USER_MODEL
ApiToken = "cashdrawer.ApiToken"


def device_field() -> models.ForeignKey:
    """Beside a "by" user: the device token a terminal acted with. An action is by a person
    (the user set, this empty) or by a device (this set, the user empty); the manager who
    issued the token is named in the audit entry, not here."""
    return models.ForeignKey(
        ApiToken, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )


def append_only(name: str) -> pgtrigger.Protect:
    """Rows that PostgreSQL itself refuses to change or delete once written."""
    return pgtrigger.Protect(name=name, operation=pgtrigger.Update | pgtrigger.Delete)


def _zero() -> models.Value:
    return models.Value(Decimal("0.00"), output_field=models.DecimalField())


def adds_up(column: str, expression: models.Expression) -> Q:
    """`column = expression`, compared at the two stored decimals.

    On PostgreSQL (numeric) the rounding changes nothing. SQLite, the embedded default,
    keeps decimals as binary floats, where 51.50 + 0.01 may differ from 51.51 in the last
    bit; rounding both sides to the stored places compares the amounts, not the bits.
    """
    return Q(Exact(Round(F(column), 2), Round(expression, 2)))


class TrackingSession(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="sessions")
    # Copied from the register so overviews of a location need no join.
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="sessions")
    main_session = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sub_sessions",
        help_text=_("For a sub-register's session: the main register's session it belongs to."),
    )
    status = models.CharField(max_length=6, choices=Status, default=Status.OPEN)
    # Fixed when the session opens (the register's setting is the default for the next).
    blind_close = models.BooleanField(default=False)

    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_by_device = device_field()
    opened_automatically = models.BooleanField(default=False)
    opening_note = models.TextField(blank=True)
    opening_float = figure_field()
    previous_closing_float = figure_field(null=True, blank=True)
    start_discrepancy = figure_field()

    # Running totals, changed only with F() under the session's row lock.
    cash_sales = figure_field(default=Decimal("0.00"))
    cash_sales_count = models.PositiveIntegerField(default=0)
    cash_refunds = figure_field(default=Decimal("0.00"))
    cash_refunds_count = models.PositiveIntegerField(default=0)
    total_sales = figure_field(default=Decimal("0.00"))
    total_refunds = figure_field(default=Decimal("0.00"))
    adjustments_in = figure_field(default=Decimal("0.00"))
    adjustments_out = figure_field(default=Decimal("0.00"))
    sub_register_cash = figure_field(default=Decimal("0.00"))

    # Stored at close; a closed session never changes again.
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_by_device = device_field()
    closing_note = models.TextField(blank=True)
    expected_cash = figure_field(null=True, blank=True)
    counted_cash = figure_field(null=True, blank=True)
    end_discrepancy = figure_field(null=True, blank=True)
    retained_float = figure_field(null=True, blank=True)
    cash_removed = figure_field(null=True, blank=True)
    # A sub session's cash, booked on its main session at close (0.00 for every other
    # session): it stays in the store, so it is not cash removed.
    transferred_to_main = figure_field(null=True, blank=True)
    # Equals the start discrepancy while open; start + end once closed.
    total_discrepancy = figure_field()
    # The register's closes are numbered 1, 2, 3 … and each one's hash covers its records
    # and the previous close's hash (sessions_app/journal.py).
    closing_number = models.PositiveIntegerField(null=True, blank=True)
    closing_hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("tracking session")
        verbose_name_plural = _("tracking sessions")
        indexes = [
            models.Index(fields=["location", "opened_at"]),
            models.Index(fields=["register", "opened_at"]),
            models.Index(fields=["register", "closed_at"]),
            # The session list of many locations in its orderings (reports.selectors.
            # SESSION_ORDERINGS): read in index order up to the page asked for, instead of
            # sorting a year of the chain (146,000 rows, on disk) for every page.
            models.Index(
                fields=["total_discrepancy", "opened_at", "id"], name="session_discrepancy_order"
            ),
            models.Index(fields=["opened_at", "id"], name="session_opened_order"),
            models.Index(fields=["closed_at", "id"], name="session_closed_order"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["register"],
                condition=Q(status="open"),
                name="one_open_session_per_register",
            ),
            models.UniqueConstraint(
                fields=["register", "closing_number"], name="closing_number_unique_per_register"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "closed"]), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="open")
                    & Q(closed_at__isnull=True)
                    & Q(expected_cash__isnull=True)
                    & Q(counted_cash__isnull=True)
                    & Q(end_discrepancy__isnull=True)
                    & Q(retained_float__isnull=True)
                    & Q(cash_removed__isnull=True)
                    & Q(transferred_to_main__isnull=True)
                    & Q(closing_number__isnull=True)
                    & Q(closing_hash="")
                )
                | (
                    Q(status="closed")
                    & Q(closed_at__isnull=False)
                    & Q(expected_cash__isnull=False)
                    & Q(retained_float__isnull=False)
                    & Q(cash_removed__isnull=False)
                    & Q(transferred_to_main__isnull=False)
                    & Q(closing_number__gte=1)
                    & Q(Exact(Length("closing_hash"), 64))
                ),
                name="session_closing_figures_iff_closed",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="session_closes_after_it_opens",
            ),
            models.CheckConstraint(
                condition=Q(opening_float__gte=0)
                & (Q(previous_closing_float__isnull=True) | Q(previous_closing_float__gte=0))
                & Q(cash_sales__gte=0)
                & Q(cash_refunds__gte=0)
                & Q(total_sales__gte=0)
                & Q(total_refunds__gte=0)
                & Q(adjustments_in__gte=0)
                & Q(adjustments_out__gte=0)
                & (Q(counted_cash__isnull=True) | Q(counted_cash__gte=0))
                & (Q(retained_float__isnull=True) | Q(retained_float__gte=0)),
                name="session_amounts_not_negative",
            ),
            # Each comparison with a nullable column is guarded by its IS NOT NULL: a CHECK
            # whose result is NULL passes, so "x = a - NULL" alone would allow anything.
            models.CheckConstraint(
                condition=(Q(previous_closing_float__isnull=True) & Q(start_discrepancy=0))
                | (
                    Q(previous_closing_float__isnull=False)
                    & adds_up("start_discrepancy", F("opening_float") - F("previous_closing_float"))
                ),
                name="session_start_discrepancy_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(expected_cash__isnull=True)
                | adds_up(
                    "expected_cash",
                    F("opening_float")
                    + F("cash_sales")
                    - F("cash_refunds")
                    + F("adjustments_in")
                    - F("adjustments_out")
                    + F("sub_register_cash"),
                ),
                name="session_expected_cash_adds_up",
            ),
            models.CheckConstraint(
                condition=(Q(counted_cash__isnull=True) & Q(end_discrepancy__isnull=True))
                | (
                    Q(counted_cash__isnull=False)
                    & Q(expected_cash__isnull=False)
                    & adds_up("end_discrepancy", F("counted_cash") - F("expected_cash"))
                ),
                name="session_end_discrepancy_adds_up",
            ),
            models.CheckConstraint(
                condition=adds_up(
                    "total_discrepancy",
                    F("start_discrepancy") + Coalesce(F("end_discrepancy"), _zero()),
                ),
                name="session_total_discrepancy_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(cash_removed__isnull=True)
                | adds_up(
                    "cash_removed",
                    Coalesce(F("counted_cash"), F("expected_cash"))
                    - F("retained_float")
                    - Coalesce(F("transferred_to_main"), _zero()),
                ),
                name="session_cash_removed_adds_up",
            ),
            models.CheckConstraint(
                condition=(
                    Q(transferred_to_main__isnull=True)
                    | Q(transferred_to_main=0)
                    | (Q(main_session__isnull=False) & Q(cash_removed=0))
                ),
                name="session_only_sub_sessions_transfer",
            ),
        ]
        triggers = [
            # A closed session never changes and is never deleted; an open one changes
            # only through the services (running totals, then its close).
            pgtrigger.Protect(
                name="closed_session_unchanged",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__status="closed"),
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} · {self.register.name}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def net_cash(self) -> Decimal:
        return self.cash_sales - self.cash_refunds

    @property
    def own_expected_cash(self) -> Decimal:
        """Expected cash of this register alone, without cash transferred from sub-registers."""
        return (
            self.opening_float
            + self.cash_sales
            - self.cash_refunds
            + self.adjustments_in
            - self.adjustments_out
        )

    @property
    def current_expected_cash(self) -> Decimal:
        """Expected cash now: stored when closed, derived from the running totals while open."""
        if self.expected_cash is not None:
            return self.expected_cash
        return self.own_expected_cash + self.sub_register_cash

    @property
    def is_counted(self) -> bool:
        return self.counted_cash is not None

    @property
    def opened_by_actor(self) -> Actor | None:
        """Who opened it: a person or a device; None when opened automatically by nobody."""
        return actor(self.opened_by, self.opened_by_device)

    @property
    def closed_by_actor(self) -> Actor | None:
        return actor(self.closed_by, self.closed_by_device)


# Session ids per block of the journal's bounds index (Transaction.Meta.indexes and
# reports/journal_copy.py): ids are given in the order sessions open, so a block is a few
# hours of a chain's sessions.
JOURNAL_BLOCK = 32


class Transaction(models.Model):
    class Kind(models.TextChoices):
        SALE = "sale", _("sale")
        REFUND = "refund", _("refund")

    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="transactions")
    # Null only for registers with cash tracking off: then no session exists.
    session = models.ForeignKey(
        TrackingSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
    )
    kind = models.CharField(max_length=6, choices=Kind)
    payment_method = models.CharField(max_length=40)
    amount = amount_field()
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # NULL, not "", when absent: the unique constraint ignores NULLs.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    late = models.BooleanField(
        default=False,
        help_text=_("It occurred during a session that was already closed when it arrived."),
    )
    recorded_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_by_device = device_field()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        indexes = [
            models.Index(fields=["session", "payment_method"]),
            # The session list's "late" badge looks late rows up per session. They are
            # rare, so this partial index stays tiny; without it the overview scanned
            # every transaction of the chain (300 ms on a year of ten stores).
            models.Index(fields=["session"], condition=Q(late=True), name="transaction_late_idx"),
            # The cash journal reads transactions in time order. Without this index a year
            # of 50 stores (8.7 million rows) was sorted before its first row: 21.7 s to
            # the first byte of the download; with it, the cursor starts at once.
            models.Index(fields=["occurred_at", "id"], name="transaction_time_order"),
            # The first and last time of any part of the chain's sessions: one probe per
            # block of JOURNAL_BLOCK session ids instead of one per session, so the
            # journal bounds its time-ordered scan to where the report's rows can lie.
            models.Index(
                F("session_id") / Value(JOURNAL_BLOCK),
                F("occurred_at"),
                name="transaction_journal_bounds",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["register", "external_id"],
                condition=Q(external_id__isnull=False),
                name="transaction_external_id_unique_per_register",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="transaction_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["sale", "refund"]), name="transaction_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(payment_method=""), name="transaction_payment_method_given"
            ),
        ]
        triggers = [append_only("transaction_append_only")]

    def __str__(self) -> str:
        return f"{self.kind} {self.payment_method} {self.amount}"

    @property
    def is_cash(self) -> bool:
        return self.payment_method == "cash"

    @property
    def recorded_by_actor(self) -> Actor | None:
        return actor(self.recorded_by, self.recorded_by_device)


class Adjustment(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("cash in")
        OUT = "out", _("cash out")

    session = models.ForeignKey(
        TrackingSession, on_delete=models.PROTECT, related_name="adjustments"
    )
    direction = models.CharField(max_length=3, choices=Direction)
    amount = amount_field()
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_device = device_field()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("float adjustment")
        verbose_name_plural = _("float adjustments")
        # The cash journal's order on a tie in time (reports/journal_copy.py).
        indexes = [
            models.Index(F("created_at"), F("id") + Value(2**60), name="adjustment_time_order_idx")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(
                condition=Q(direction__in=["in", "out"]), name="adjustment_direction_valid"
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="adjustment_reason_given"),
        ]
        triggers = [append_only("adjustment_append_only")]

    def __str__(self) -> str:
        return f"{self.direction} {self.amount}: {self.reason}"

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.direction == self.Direction.IN else -self.amount

    @property
    def created_by_actor(self) -> Actor | None:
        return actor(self.created_by, self.created_by_device)


class CountLine(models.Model):
    """One denomination of an opening or closing count: quantity × face value."""

    class Stage(models.TextChoices):
        OPENING = "opening", _("opening")
        CLOSING = "closing", _("closing")

    session = models.ForeignKey(TrackingSession, on_delete=models.PROTECT, related_name="counts")
    stage = models.CharField(max_length=7, choices=Stage)
    # The face value is copied, not linked: a count stays true if denominations are edited.
    value = amount_field()
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["stage", "-value"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "stage", "value"], name="count_line_unique_value"
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="count_line_value_positive"),
            models.CheckConstraint(
                condition=Q(stage__in=["opening", "closing"]), name="count_line_stage_valid"
            ),
        ]
        triggers = [append_only("count_line_append_only")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.value}"

    @property
    def subtotal(self) -> Decimal:
        return self.value * self.quantity


class ClosingTransfer(models.Model):
    """The whole expected cash of a closed sub session, booked on its main session."""

    sub_session = models.OneToOneField(
        TrackingSession, on_delete=models.PROTECT, related_name="closing_transfer"
    )
    main_session = models.ForeignKey(
        TrackingSession, on_delete=models.PROTECT, related_name="transfers_in"
    )
    amount = figure_field()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_device = device_field()

    class Meta:
        ordering = ["created_at", "id"]
        # The cash journal's order on a tie in time (reports/journal_copy.py).
        indexes = [
            models.Index(F("created_at"), F("id") + Value(2**61), name="transfer_time_order_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(sub_session=F("main_session")), name="transfer_between_two_sessions"
            ),
        ]
        triggers = [append_only("closing_transfer_append_only")]

    def __str__(self) -> str:
        return f"{self.amount} from session {self.sub_session_id} to {self.main_session_id}"

    @property
    def created_by_actor(self) -> Actor | None:
        return actor(self.created_by, self.created_by_device)


class Correction(models.Model):
    """A later correction of a closed session's discrepancy; the session itself never changes."""

    session = models.ForeignKey(
        TrackingSession, on_delete=models.PROTECT, related_name="corrections"
    )
    # Copied from the session: corrections are numbered and chained per register, on a
    # sequence of their own (sessions_app/journal.py).
    register = models.ForeignKey(Register, on_delete=models.PROTECT, related_name="corrections")
    amount = amount_field(help_text=_("Signed correction of the discrepancy, e.g. -2.00."))
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    correction_number = models.PositiveIntegerField()
    correction_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="correction_reason_given"),
            models.CheckConstraint(condition=~Q(amount=0), name="correction_amount_not_zero"),
            models.UniqueConstraint(
                fields=["register", "correction_number"],
                name="correction_number_unique_per_register",
            ),
            models.CheckConstraint(
                condition=Q(correction_number__gte=1) & Q(Exact(Length("correction_hash"), 64)),
                name="correction_sealed",
            ),
        ]
        triggers = [append_only("correction_append_only")]

    def __str__(self) -> str:
        return f"Correction {self.amount} of session {self.session_id}"


class DiscrepancyNote(models.Model):
    """The explanation of a large discrepancy given after a blind count (a closed session
    never changes, so it cannot go into the session's closing note). One per session."""

    session = models.OneToOneField(
        TrackingSession, on_delete=models.PROTECT, related_name="discrepancy_note"
    )
    text = models.CharField(max_length=2000)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by_device = device_field()

    class Meta:
        verbose_name = _("discrepancy note")
        verbose_name_plural = _("discrepancy notes")
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="discrepancy_note_text_given"),
        ]
        triggers = [append_only("discrepancy_note_append_only")]

    def __str__(self) -> str:
        return f"Note on session {self.session_id}"

    @property
    def created_by_actor(self) -> Actor | None:
        return actor(self.created_by, self.created_by_device)
