"""Money and time as the reader expects them: in the page's language, in the location's
currency and time zone (`1.002,50 €` in German, `€1,002.50` in English)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django import template
from django.utils import formats, translation
from django.utils.dates import MONTHS, MONTHS_3, WEEKDAYS_ABBR

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


# The smallest unit shown, per number of decimal places.
_STEPS = {places: Decimal(1).scaleb(-places) for places in range(4)}


def _unsigned_number(amount: Decimal, places: int, language: str | None) -> str:
    """abs(amount) with `places` decimals as Django's number_format(decimal_pos=places,
    force_grouping=True) writes it in `language`, digits cut (not rounded) like it.

    Django's version looks up the language's formats and groups the digits in a Python
    loop: about 70 µs an amount under load, hundreds of amounts on the all-locations
    overview. Python groups by threes itself; the separators are swapped in after."""
    grouping = formats.get_format("NUMBER_GROUPING", language)
    if grouping != 3 or not isinstance(amount, Decimal) or not amount.is_finite():
        return formats.number_format(
            abs(amount), decimal_pos=places, use_l10n=True, force_grouping=True
        )
    text = f"{abs(amount).quantize(_STEPS[places], rounding=ROUND_DOWN):,f}"
    decimal = formats.get_format("DECIMAL_SEPARATOR", language)
    thousands = formats.get_format("THOUSAND_SEPARATOR", language)
    if decimal == "." and thousands == ",":
        return text
    return text.translate({ord(","): thousands, ord("."): decimal})


def format_money(amount: Decimal | None, currency: str, *, sign: bool = False) -> str:
    if amount is None:
        return "—"
    language = translation.get_language()
    number = _unsigned_number(amount, minor_units(currency), language)
    symbol = SYMBOLS.get(currency, currency)
    language = (language or "en").split("-")[0]
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


# Django date-format characters written by str.format: the numeric ones directly, the
# names (translated) as arguments. A format with any other character goes through Django.
_NUMERIC_DATE_CODES = {
    "d": "{0.day:02d}",
    "j": "{0.day}",
    "m": "{0.month:02d}",
    "n": "{0.month}",
    "Y": "{0.year:04d}",
    "H": "{0.hour:02d}",
    "G": "{0.hour}",
    "i": "{0.minute:02d}",
    "s": "{0.second:02d}",
}
# As django.utils.dateformat writes them.
_NAMED_DATE_CODES: dict[str, Callable[[dt.date], str]] = {
    "D": lambda value: str(WEEKDAYS_ABBR[value.weekday()]),
    "M": lambda value: str(MONTHS_3[value.month]).title(),
    "F": lambda value: str(MONTHS[value.month]),
}
_DATE_FORMAT_CHARS = frozenset("aAbcdDeEfFgGhHiIjlLmMnNoOPrsStTUuwWyYzZ\\")


@functools.lru_cache(maxsize=128)
def _date_template(format_string: str) -> tuple[str, tuple[Callable, ...]] | None:
    """A Django date format ("d/m/Y H:i", "D j M") as a str.format template and the
    names it takes, or None when it has a character not handled here."""
    parts, names = [], []
    for char in format_string:
        if char in _NUMERIC_DATE_CODES:
            parts.append(_NUMERIC_DATE_CODES[char])
        elif char in _NAMED_DATE_CODES:
            names.append(_NAMED_DATE_CODES[char])
            parts.append(f"{{{len(names)}}}")
        elif char in _DATE_FORMAT_CHARS:
            return None
        else:
            parts.append(char.replace("{", "{{").replace("}", "}}"))
    return "".join(parts), tuple(names)


def date_text(value: dt.date, format_name: str) -> str:
    """formats.date_format(value, format_name), the same text (format_name is a format
    setting such as "SHORT_DATETIME_FORMAT", or a format itself such as "j M"), without
    Django's DateFormat object: about 40 µs a cell, 90 µs under load; a few µs this way."""
    compiled = _date_template(str(formats.get_format(format_name)))
    if compiled is None:
        return formats.date_format(value, format_name)
    template, names = compiled
    return template.format(value, *(name(value) for name in names))


def _local(value: dt.datetime, timezone_name: str) -> dt.datetime:
    return value.astimezone(ZoneInfo(timezone_name))


def _tz_name(where) -> str:
    return getattr(where, "timezone", None) or str(where)


@register.filter
def when(value: dt.datetime | None, where) -> str:
    """Date and time in the location's time zone: {{ session.opened_at|when:location }}."""
    if value is None:
        return "—"
    return date_text(_local(value, _tz_name(where)), "SHORT_DATETIME_FORMAT")


@register.filter
def when_time(value: dt.datetime | None, where) -> str:
    if value is None:
        return "—"
    return date_text(_local(value, _tz_name(where)), "TIME_FORMAT")


@register.filter
def local_date(value: dt.datetime | dt.date | None, where=None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime) and where is not None:
        value = _local(value, _tz_name(where))
    return date_text(value, "DATE_FORMAT")


@register.filter
def short_date(value: dt.date | None) -> str:
    if value is None:
        return ""
    return date_text(value, "SHORT_DATE_FORMAT")


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
