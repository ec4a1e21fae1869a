"""Money: exact decimals with the currency's number of minor units, never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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

# Field sizes for every money column: up to 999,999,999,999.99.
MAX_DIGITS = 14
DECIMAL_PLACES = 2

ZERO = Decimal("0.00")


class AmountError(ValueError):
    """An amount that is not a valid sum of money in its currency."""


def minor_units(currency: str) -> int:
    return CURRENCY_MINOR_UNITS.get(currency, 2)


def parse_amount(value: object, *, currency: str, allow_negative: bool = False) -> Decimal:
    """Turn user input into an exact Decimal for `currency`, refusing rather than rounding.

    Accepts Decimal, int and str ("150", "150.00"). Floats are refused: they cannot
    carry an exact amount of money.
    """
    if isinstance(value, (bool, float)):
        raise AmountError(_("Enter the amount as a decimal string such as 150.00."))
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise AmountError(_("%(value)s is not a number.") % {"value": repr(value)}) from None
    else:
        raise AmountError(_("Enter an amount."))
    if not amount.is_finite():
        raise AmountError(_("Enter a finite amount."))
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
    if abs(amount) >= Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES):
        raise AmountError(_("The amount is too large."))
    # "+ ZERO" turns a "-0" into 0.00, so no amount is ever shown as "-0.00".
    return quantize(amount) + ZERO


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
