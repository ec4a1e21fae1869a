"""Forms of the report pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cashdrawer.forms import AmountField


class CorrectionForm(forms.Form):
    """A correction of a closed session's discrepancy: a signed amount and why.

    Only the shape is checked here; sessions_app.services.add_correction decides whether
    the amount fits the currency and whether the session can be corrected.
    """

    amount = AmountField(
        label=_("Amount"),
        help_text=_("Negative when the session was shorter than booked, e.g. -2.00."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say why the discrepancy is corrected.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A correction may be negative: a "decimal" keypad on a tablet has no minus key.
        self.fields["amount"].widget.attrs["inputmode"] = "text"
