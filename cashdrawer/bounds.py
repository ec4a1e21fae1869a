"""Bounds on what a person or terminal may enter, beside the money helper (money.py holds
the amount bounds): when a sale may have occurred, which payment methods a store takes,
and which characters a text may hold. The services call these; so every face (API,
pages, admin, commands) refuses the same input with the same message.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CASH = "cash"
DEFAULT_PAYMENT_METHODS = (CASH, "card")

# A terminal's clock may run a little ahead of the server's; more than this is a wrong
# clock or a typo, and a sale dated in the future would sort after sales not yet made.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class BoundError(ValueError):
    """Input outside a bound; the message names the bound."""


def late_limit() -> dt.timedelta:
    """How far back a sale may have occurred: a terminal that was offline for weeks still
    sends its sales (they arrive as late sales), but not a sale of years ago."""
    return dt.timedelta(days=settings.LATE_SALES_LIMIT_DAYS)


def check_occurred_at(occurred_at: dt.datetime, *, received_at: dt.datetime) -> None:
    """A sale's time lies within [received - late limit, received + 5 minutes]."""
    latest = received_at + FUTURE_TOLERANCE
    if occurred_at > latest:
        raise BoundError(
            _(
                "The time lies in the future: at most 5 minutes after the server's clock "
                "(%(latest)s). Check the terminal's clock."
            )
            % {"latest": _utc(latest)}
        )
    earliest = received_at - late_limit()
    if occurred_at < earliest:
        raise BoundError(
            _("The time lies more than %(days)d days back (before %(earliest)s).")
            % {"days": settings.LATE_SALES_LIMIT_DAYS, "earliest": _utc(earliest)}
        )


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- payment methods ------------------------------------------------------------------

# Characters that show nothing but are not in a "format" or "control" category.
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def canonical_method(text: str) -> str:
    """A payment method's name as it is compared and stored: Unicode NFKC (full-width
    and other compatibility forms become plain letters), without invisible characters
    (a zero-width space in "ca\u200bsh" would otherwise make a second, non-cash method),
    runs of spaces as one, case folded ("Card" and "CARD" are "card")."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(
        char
        for char in text
        if char not in _FILLERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
    )
    text = " ".join(text.split()).casefold()
    return unicodedata.normalize("NFKC", text)


# The names of the methods every store knows (the defaults, and the voucher most stores
# add), in the page's language. Only for display: the stored name stays as it is, and the
# API and the CSV files carry it unchanged.
METHOD_LABELS = {
    CASH: gettext_lazy("Cash"),
    "card": gettext_lazy("Card"),
    "voucher": gettext_lazy("Voucher"),
}


def method_label(name: str) -> str:
    """A payment method as a page shows it: a known one translated, one a manager added
    as it was entered (its stored, case-folded name with a capital)."""
    label = METHOD_LABELS.get(name)
    return str(label) if label is not None else name[:1].upper() + name[1:]


def unknown_method_message(name: str, known: list[str]) -> str:
    return _("%(name)s is not a payment method of this store. It takes: %(known)s.") % {
        "name": repr(name[:40]),
        "known": ", ".join(sorted(known)),
    }


# --- text -----------------------------------------------------------------------------


def check_storable_text(text: str) -> None:
    """PostgreSQL stores neither NUL characters nor unpaired surrogates (they cannot be
    encoded as UTF-8); refuse them instead of failing at the database."""
    if "\x00" in text:
        raise BoundError(_("The text contains a NUL character."))
    if any("\ud800" <= char <= "\udfff" for char in text):
        raise BoundError(_("The text contains a character that is not valid Unicode."))
