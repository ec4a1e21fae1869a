"""Money: exact decimals with the currency's number of minor units, never floats.

Bounds live here too, so every face (API, pages, admin, commands) refuses the same
amounts: one amount a person or terminal enters is at most its location's ceiling
(`Location.max_amount`), and no figure stored on a session may pass what its column
holds (`FIGURE_LIMIT`; the services check new totals against it under the lock).
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

# ISO 4217 minor units of the currencies a location may use. The database stores two
# decimal places, so currencies with three minor units are deliberately not offered.
CURRENCY_MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "JPY": 0,
    "SEK": 2,
    "DKK": 2,
    "NOK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "CAD": 2,
    "AUD": 2,
}

CURRENCY_CHOICES = [(code, code) for code in CURRENCY_MINOR_UNITS]

DECIMAL_PLACES = 2
# One amount as entered (a sale, an adjustment, a float, a face value, a ceiling). The
# columns keep their first size (up to 999,999,999,999.99), far above the largest
# ceiling a location may set, so rows stored before the ceilings existed stay readable.
AMOUNT_MAX_DIGITS = 14
# Figures summed from many amounts (a session's running totals, expected and counted
# cash, discrepancies, transfers): up to 9,999,999,999,999.99.
FIGURE_MAX_DIGITS = 15
FIGURE_LIMIT = Decimal("9999999999999.99")
# A location's ceiling for one amount: 100,000.00 unless its administrator sets another,
# at most CEILING_MAX, so ten thousand amounts at the ceiling still fit a session's figures.
DEFAULT_CEILING = Decimal("100000.00")
CEILING_MAX = Decimal("1000000000.00")

# What an amount may look like as text: ASCII digits, at most one decimal point, an
# optional minus sign. No exponent ("1e3"), no underscores ("4_5"), no inner spaces, no
# other digits ("٤٥"), none of which a cashier means as money; Decimal() accepts them all.
_AMOUNT_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?|-?\.[0-9]+|-?[0-9]+\.")

ZERO = Decimal("0.00")


class AmountError(ValueError):
    """An amount that is not a valid sum of money in its currency."""


def minor_units(currency: str) -> int:
    return CURRENCY_MINOR_UNITS.get(currency, 2)


def parse_amount(
    value: object,
    *,
    currency: str,
    allow_negative: bool = False,
    ceiling: Decimal | None = None,
) -> Decimal:
    """Turn user input into an exact Decimal for `currency`, refusing rather than rounding.

    Accepts Decimal, int and str ("150", "150.00"). Floats are refused: they cannot
    carry an exact amount of money. Above `ceiling` (the location's ceiling for one
    amount), or FIGURE_LIMIT without one, is refused with a message naming the bound.
    """
    if isinstance(value, (bool, float)):
        raise AmountError(_("Enter the amount as a decimal string such as 150.00."))
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        # Length first: the pattern and Decimal() need not read a megabyte of digits.
        if len(text) > 40 or not _AMOUNT_TEXT.fullmatch(text):
            raise AmountError(not_a_number(value))
        amount = Decimal(text)
    else:
        raise AmountError(_("Enter an amount."))
    if not amount.is_finite():
        raise AmountError(_("Enter a finite amount."))
    # Compared by digits, not arithmetic: abs() of Decimal("1e1000000") overflows.
    if _integer_digits(amount) > FIGURE_MAX_DIGITS:
        raise AmountError(too_large(FIGURE_LIMIT, currency))
    places = minor_units(currency)
    if has_more_decimals(amount, places):
        if places == 0:
            raise AmountError(_("%(currency)s amounts have no decimals.") % {"currency": currency})
        raise AmountError(
            _("%(currency)s amounts have at most %(places)s decimals.")
            % {"currency": currency, "places": places}
        )
    if amount < 0 and not allow_negative:
        raise AmountError(_("The amount cannot be negative."))
    limit = FIGURE_LIMIT if ceiling is None else min(ceiling, FIGURE_LIMIT)
    if abs(amount) > limit:
        raise AmountError(too_large(limit, currency, ceiling=ceiling is not None))
    # "+ ZERO" turns a "-0" into 0.00, so no amount is ever shown as "-0.00".
    return quantize(amount) + ZERO


def not_a_number(value: object) -> str:
    text = str(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return _("%(value)s is not a number: write an amount such as 150.00.") % {"value": repr(shown)}


def too_large(limit: Decimal, currency: str, *, ceiling: bool = False) -> str:
    # Rounded down: the bound in yen is 9999999999999, not a rounded-up 10000000000000.
    places = Decimal(1).scaleb(-minor_units(currency))
    bound = f"{limit.quantize(places, rounding=ROUND_DOWN)} {currency}"
    if ceiling:
        return _(
            "The amount is above this store's ceiling of %(ceiling)s for one amount. "
            "An administrator can raise it."
        ) % {"ceiling": bound}
    return _("The amount is above the largest amount Cashdrawer stores, %(limit)s.") % {
        "limit": bound
    }


def within_figure_limit(*figures: Decimal | None) -> bool:
    """Whether every figure fits a session's money columns."""
    return all(figure is None or abs(figure) <= FIGURE_LIMIT for figure in figures)


def _integer_digits(amount: Decimal) -> int:
    _sign, digits, exponent = amount.as_tuple()
    return max(len(digits) + int(exponent), 0)


def has_more_decimals(amount: Decimal, places: int) -> bool:
    """True when a non-zero digit lies beyond `places` decimals.

    Read from the digits themselves, not with normalize(): normalize() rounds to the
    context's 28 significant digits, so "1.0000000000000000000000000001" would pass as 1.00
    (rounded, where it must be refused). Trailing zeros ("1.500", or "1500.00" yen) are fine.
    """
    _sign, digits, exponent = amount.as_tuple()
    extra = -exponent - places  # digits written beyond the allowed places
    if not isinstance(exponent, int) or extra <= 0:
        return False
    return any(digits[-extra:])


def quantize(amount: Decimal) -> Decimal:
    """Give an already valid amount the two stored decimal places (exact, no rounding)."""
    return amount.quantize(Decimal("0.01"))


def format_amount(amount: Decimal | None, currency: str) -> str | None:
    """The canonical string of an amount: exactly the currency's minor units ("150.00", "1500")."""
    if amount is None:
        return None
    places = minor_units(currency)
    return str(amount.quantize(Decimal(1).scaleb(-places)))
