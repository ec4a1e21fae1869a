"""Forms of the register operations: they check the shape of what was typed (an amount in
the page's language, whole quantities of known denominations) and hand the services
keyword arguments. Every rule that involves other records stays in services.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cashdrawer.forms import AmountField
from cashdrawer.models import Denomination, Register
from cashdrawer.money import AmountError, format_amount, parse_amount
from sessions_app.models import Adjustment
from sessions_app.services import MAX_QUANTITY

COUNT_PREFIX = "count_"
TOTAL, DENOMINATIONS = "total", "denominations"
METHOD_CHOICES = [(TOTAL, _("As a total")), (DENOMINATIONS, _("By denominations"))]


@dataclass(frozen=True)
class CountRow:
    """One line of the count grid: a denomination and its quantity field."""

    value: Decimal
    key: str  # the face value as the services read it: "50.00", or "1000" for yen
    kind: str
    field_name: str


def count_rows(currency: str) -> list[CountRow]:
    """The currency's denominations as a cashier counts them: notes first, largest first."""
    denominations = Denomination.objects.filter(currency=currency)
    ordered = sorted(denominations, key=lambda d: (d.kind != Denomination.Kind.NOTE, -d.value))
    rows = []
    for denomination in ordered:
        key = format_amount(denomination.value, currency)
        rows.append(CountRow(denomination.value, key, denomination.kind, COUNT_PREFIX + key))
    return rows


def breakdown(amount: Decimal | None, rows: list[CountRow]) -> dict[str, int]:
    """A float as a drawer usually holds it, to pre-fill the grid: greedy from the largest
    note up to 20 (a float is change, not big notes), then whatever else fits."""
    if not amount or amount <= 0:
        return {}
    quantities: dict[str, int] = {}
    remaining = amount
    passes = (
        [r for r in rows if r.value <= 20],
        [r for r in rows if r.value > 20],
    )
    for values in passes:
        for row in sorted(values, key=lambda r: -r.value):
            quantity = int(remaining // row.value)
            if quantity:
                quantities[row.field_name] = quantities.get(row.field_name, 0) + quantity
                remaining -= row.value * quantity
    return quantities if remaining == 0 else {}


class QuantityField(forms.IntegerField):
    """A whole number typed with ASCII digits. int() also reads "٣", "３", "1_0" and
    "3.0" (as 3, 3, 10 and 3), none of which a cashier types as a quantity; they are
    refused as amounts with such characters are (issue 8)."""

    def to_python(self, value: Any) -> int | None:
        text = "" if value is None else str(value).strip()
        if text and not _WHOLE_NUMBER.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(text)


_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def quantity_field() -> forms.IntegerField:
    return QuantityField(
        required=False,
        min_value=0,
        max_value=MAX_QUANTITY,
        error_messages={
            "invalid": _("A whole number, please."),
            "min_value": _("Not less than 0."),
            "max_value": _("At most %(limit_value)s."),
        },
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "autocomplete": "off",
                "class": "qty",
                "data-qty": "",
                "size": "5",
            }
        ),
    )


class CountFormBase(forms.Form):
    """A form with a count grid of the register's currency (and, for registers that count
    as a total, the choice between a total and the grid)."""

    # An anchor for errors about the count as a whole (unknown denomination, nothing
    # counted); the services name it "counts" or "opening_counts".
    counts = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, register: Register, rows: list[CountRow], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.register = register
        self.currency = register.location.currency
        self.rows = rows if self.has_count else []
        if self.offers_method:
            self.fields["method"] = forms.ChoiceField(
                choices=METHOD_CHOICES, widget=forms.RadioSelect, initial=TOTAL
            )
        for row in self.rows:
            field = quantity_field()
            field.label = format_amount(row.value, self.currency)
            field.widget.attrs["data-value"] = row.key
            self.fields[row.field_name] = field

    @property
    def has_count(self) -> bool:
        return True

    @property
    def offers_method(self) -> bool:
        """Only registers that count as a total may also be given a total."""
        return self.has_count and self.register.count_method == Register.CountMethod.TOTAL

    @property
    def method(self) -> str:
        if not self.offers_method:
            return DENOMINATIONS
        value = self["method"].value()
        return value if value in (TOTAL, DENOMINATIONS) else TOTAL

    def grid(self) -> list[tuple[CountRow, forms.BoundField, Decimal | None]]:
        """(row, bound field, subtotal) for the template, notes first. The subtotal is
        shown without JavaScript too; count.js keeps it up to date while typing."""
        lines = []
        for row in self.rows:
            bound = self[row.field_name]
            try:
                subtotal = row.value * int(str(bound.value()).strip())
            except (TypeError, ValueError):
                subtotal = None
            lines.append((row, bound, subtotal))
        return lines

    def grid_groups(self) -> list[tuple[str, list]]:
        """The grid split into notes and coins, each shown as its own column."""
        groups: dict[str, list] = {}
        for line in self.grid():
            groups.setdefault(line[0].kind, []).append(line)
        labels = {Denomination.Kind.NOTE: _("Notes"), Denomination.Kind.COIN: _("Coins")}
        return [(labels.get(kind, kind), lines) for kind, lines in groups.items()]

    def entered_counts(self) -> list[dict[str, Any]] | None:
        """The quantities typed in, or None when every box was left empty."""
        lines = [
            {"value": row.key, "quantity": self.cleaned_data.get(row.field_name)}
            for row in self.rows
        ]
        lines = [line for line in lines if line["quantity"] is not None]
        return lines or None

    def check_unknown_denominations(self) -> None:
        known = {row.field_name for row in self.rows}
        for name in self.data:
            if name.startswith(COUNT_PREFIX) and name not in known:
                self.add_error(
                    "counts",
                    _("%(value)s is not a %(currency)s denomination.")
                    % {"value": name.removeprefix(COUNT_PREFIX)[:20], "currency": self.currency},
                )


class OpenSessionForm(CountFormBase):
    opening_float = AmountField(label=_("Opening float"), required=False)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, register: Register, rows: list[CountRow], **kwargs: Any):
        super().__init__(*args, register=register, rows=rows, **kwargs)
        # count.js reads the typed total from this input, so the summary (opening float,
        # start discrepancy) follows it as the grid's total does.
        self.fields["opening_float"].widget.attrs["data-counted-input"] = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.check_unknown_denominations()
        missing = self.method == TOTAL and not cleaned.get("opening_float")
        if missing and "opening_float" not in self.errors:
            self.add_error("opening_float", _("Enter the opening float, 0 for none."))
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        """open_session(**kwargs): the float as a total or as a count (empty grid: 0.00)."""
        kwargs: dict[str, Any] = {"note": self.cleaned_data["note"]}
        if self.method == TOTAL:
            kwargs["opening_float"] = self.cleaned_data["opening_float"]
        else:
            kwargs["opening_counts"] = self.entered_counts() or []
        return kwargs


class CloseSessionForm(CountFormBase):
    """Count (or deliberately not count), the retained float and a note. A sub-register's
    form has no count at all: its cash is counted at its main register."""

    counted = AmountField(label=_("Counted cash"), required=False)
    not_counted = forms.BooleanField(
        label=_("Close without counting"),
        required=False,
        help_text=_("The session is then reported as not counted."),
    )
    retained_float = AmountField(label=_("Retained float"), required=False)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # Sent by the "Confirm and close" button of the panel shown after a count whose
    # difference passed the location's threshold.
    confirm_discrepancy = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, register: Register, rows: list[CountRow], **kwargs: Any):
        self._is_sub = register.is_sub
        super().__init__(*args, register=register, rows=rows, **kwargs)
        if self._is_sub:
            for name in ("counted", "not_counted", "retained_float"):
                del self.fields[name]
        else:
            self.fields["counted"].widget.attrs["data-counted-input"] = ""

    @property
    def has_count(self) -> bool:
        return not self._is_sub

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self._is_sub:
            return cleaned
        self.check_unknown_denominations()
        typed_a_count = (
            self.entered_counts() is not None
            if self.method == DENOMINATIONS
            else bool(cleaned.get("counted"))
        )
        if cleaned.get("not_counted"):
            if typed_a_count:
                self.add_error(
                    "not_counted",
                    _("You entered a count: clear it, or untick “Close without counting”."),
                )
        elif not typed_a_count and not self.errors:
            if self.method == DENOMINATIONS:
                message = _(
                    "Enter what you counted (0 for an empty drawer), or close without counting."
                )
                self.add_error("counts", message)
            else:
                self.add_error(
                    "counted",
                    _("Enter the counted cash (0 for an empty drawer), or close without counting."),
                )
        return cleaned

    def service_kwargs(self) -> dict[str, Any]:
        """close_session(**kwargs). A retained float left at the pre-filled default is
        passed as None, so the service applies its own rule: the default float, capped at
        the counted (or expected) cash."""
        kwargs: dict[str, Any] = {"note": self.cleaned_data["note"]}
        if self._is_sub:
            return kwargs
        # Confirming without a note asks again (with the figures) rather than answering a
        # bare "note required": the panel that asks for the note needs them.
        kwargs["confirm_discrepancy"] = bool(
            self.cleaned_data.get("confirm_discrepancy") and self.cleaned_data["note"].strip()
        )
        if not self.cleaned_data.get("not_counted"):
            if self.method == DENOMINATIONS:
                kwargs["counts"] = self.entered_counts()
            else:
                kwargs["counted"] = self.cleaned_data["counted"]
        retained = self.cleaned_data.get("retained_float") or None
        default = self.register.default_float
        if retained is not None and default is not None:
            retained = None if _same_amount(retained, default, self.currency) else retained
        kwargs["retained_float"] = retained
        return kwargs


def _same_amount(text: str, amount: Decimal, currency: str) -> bool:
    """Whether the typed text is this amount, read as the services read amounts: "1e2" or
    "١٠٠" is not an amount, so it is refused like any other, not taken as the default
    float of 100.00 it happens to equal for Decimal()."""
    try:
        return parse_amount(text, currency=currency) == amount
    except AmountError:
        return False


class AdjustmentForm(forms.Form):
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (Adjustment.Direction.IN, _("Cash in")),
            (Adjustment.Direction.OUT, _("Cash out")),
        ],
        widget=forms.RadioSelect,
    )
    amount = AmountField(label=_("Amount"))
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        help_text=_("For example: drawer over limit, own money for change."),
    )


# Service field names → form fields, per form. Unknown ones become non-field errors.
OPEN_FIELDS = {"opening_float": "opening_float", "opening_counts": "counts", "note": "note"}
CLOSE_FIELDS = {
    "counted_cash": "counted",
    "counts": "counts",
    "retained_float": "retained_float",
    "note": "note",
}
ADJUST_FIELDS = {"direction": "direction", "amount": "amount", "reason": "reason"}


class ExplainDiscrepancyForm(forms.Form):
    note = forms.CharField(
        label=_("What happened?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("Explain what happened, please.")},
    )
