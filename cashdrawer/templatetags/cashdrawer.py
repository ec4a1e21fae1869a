"""Money and time as the reader expects them: in the page's language, in the location's
currency and time zone (`1.002,50 €` in German, `€1,002.50` in English)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import template
from django.utils import formats, translation

from cashdrawer.bounds import method_label
from cashdrawer.money import minor_units

register = template.Library()

SYMBOLS = {
    "EUR": "€",
    "USD": "$",
    "GBP": "£",
    "JPY": "¥",
    "CHF": "CHF",
    "SEK": "kr",
    "DKK": "kr.",
    "NOK": "kr",
    "PLN": "zł",
    "CZK": "Kč",
    "HUF": "Ft",
    "CAD": "CA$",
    "AUD": "A$",
}


def format_money(amount: Decimal | None, currency: str, *, sign: bool = False) -> str:
    if amount is None:
        return "—"
    places = minor_units(currency)
    number = formats.number_format(
        abs(amount), decimal_pos=places, use_l10n=True, force_grouping=True
    )
    symbol = SYMBOLS.get(currency, currency)
    language = (translation.get_language() or "en").split("-")[0]
    if language == "de":
        text = f"{number}\u00a0{symbol}"
    elif language == "nl":
        text = f"{symbol}\u00a0{number}"
    else:
        text = f"{symbol}{number}" if len(symbol) == 1 else f"{symbol}\u00a0{number}"
    if amount < 0:
        return f"−{text}"  # a real minus sign, so "−€5.00" reads as short at a glance
    if sign and amount > 0:
        return f"+{text}"
    return text


@register.filter
def money(amount: Decimal | None, currency: str = "EUR") -> str:
    """{{ session.expected_cash|money:location.currency }}"""
    return format_money(amount, currency)


@register.filter
def signed_money(amount: Decimal | None, currency: str = "EUR") -> str:
    """Like money, with a + for a surplus (discrepancies)."""
    return format_money(amount, currency, sign=True)


@register.filter
def number(amount: Decimal | None, currency: str = "EUR") -> str:
    """An amount without symbol, in the language's format (for inputs and tables)."""
    if amount is None:
        return ""
    return formats.number_format(
        amount, decimal_pos=minor_units(currency), use_l10n=True, force_grouping=True
    )


def _local(value: dt.datetime, timezone_name: str) -> dt.datetime:
    return value.astimezone(ZoneInfo(timezone_name))


def _tz_name(where) -> str:
    return getattr(where, "timezone", None) or str(where)


@register.filter
def when(value: dt.datetime | None, where) -> str:
    """Date and time in the location's time zone: {{ session.opened_at|when:location }}."""
    if value is None:
        return "—"
    return formats.date_format(_local(value, _tz_name(where)), "SHORT_DATETIME_FORMAT")


@register.filter
def when_time(value: dt.datetime | None, where) -> str:
    if value is None:
        return "—"
    return formats.time_format(_local(value, _tz_name(where)), "TIME_FORMAT")


@register.filter
def local_date(value: dt.datetime | dt.date | None, where=None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime) and where is not None:
        value = _local(value, _tz_name(where))
    return formats.date_format(value, "DATE_FORMAT")


@register.filter
def short_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return formats.date_format(value, "SHORT_DATE_FORMAT")


@register.filter
def tone(amount: Decimal | None) -> str:
    """A CSS class for a discrepancy: short, over or even."""
    if amount is None:
        return "muted"
    if amount < 0:
        return "short"
    if amount > 0:
        return "over"
    return "even"


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current page's query string with some parameters changed (None removes one):
    {% query ordering='-total_discrepancy' page=None %}"""
    params = context["request"].GET.copy()
    for name, value in changes.items():
        if value is None or value == "":
            params.pop(name, None)
        else:
            params[name] = str(value)
    return "?" + params.urlencode() if params else "?"


@register.simple_tag(takes_context=True)
def report_locations(context):
    """The locations whose overviews the user may read (the admin index links to them)."""
    from cashdrawer.selectors import REPORT_ROLES, locations_for

    return locations_for(context["request"].user, roles=REPORT_ROLES).order_by("name")


@register.filter
def payment_method(name: str | None) -> str:
    """A payment method in the page's language ({{ tx.payment_method|payment_method }});
    one a manager added is shown as entered."""
    return "" if not name else method_label(name)
