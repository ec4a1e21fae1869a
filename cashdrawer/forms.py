"""Form pieces shared by the back-office pages."""

from __future__ import annotations

import re

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

_GROUPED_DOT = re.compile(r"^\d{1,3}(\.\d{3})+$")
_GROUPED_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d*)?$")


def normalize_amount(text: str) -> str:
    """Turn what a person types in the page's language into a plain decimal string for the
    services, which then check it against the currency ("12,50" in German is 12.50;
    "1.002,50" is 1002.50; "1,002.50" in English is 1002.50). Only the shape is handled
    here; whether it is a valid amount stays the service's decision."""
    # Inner spaces are left for the service to refuse, like any other character that is
    # not a digit or a separator: "1 5" is more likely two amounts than fifteen.
    text = text.strip()
    if formats.get_format("DECIMAL_SEPARATOR") == ",":
        if "," in text:
            return text.replace(".", "").replace(",", ".")
        # No comma: "1.002" is a thousands group, "12.5" and "12.50" are decimals.
        return text.replace(".", "") if _GROUPED_DOT.match(text) else text
    # Only thousands commas ("1,002.50") are dropped. "12,50" stays as typed, for the
    # service to refuse: reading it as 1250 would book a hundred times the cash.
    return text.replace(",", "") if _GROUPED_COMMA.match(text) else text


class AmountField(forms.CharField):
    """An amount of money typed in the page's language, handed on as a decimal string."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 30)
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"inputmode": "decimal", "autocomplete": "off", "class": "amount-input"}
        )

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_amount(value) if value else value

    default_error_messages = {"required": _("Enter an amount.")}
