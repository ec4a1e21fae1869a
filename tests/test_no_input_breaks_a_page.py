"""No accepted input can break a page (issue 8, item 2).

Hypothesis drives a store with random operations at and around every bound of issue 8's
item 1: amounts at 0, 0.01, the location's ceiling and a cent either side, the figures'
limit and its neighbours, exponents, odd digits and other types; sale times at the
server's clock + 5 minutes and − 90 days, a second or a minute either side, and far off;
texts of exactly their longest length and one more, made of characters of every Unicode
category (surrogates, controls, format characters, private use, line and paragraph
separators, right-to-left marks, combining marks, emoji); payment methods however they
are written; ids of other JSON types. The operations go through the API (a manager's user
token and each register's device token), the register pages' forms and the admin: open
(a total or a count), sales and refunds of every payment method (cash, card and the
store's own method with an odd name), cash in and out, close (counted as a total or by
denominations, not counted, a retained float), corrections, a shared closing of a main
register with its sub-registers, renaming a register or the store, naming a device token
and adding a payment method. A drawn starting state may put a session's running totals
right below the figures' limit (what millions of sales would do), so that the next
operations run into `limit_exceeded`.

Each input is classified *before* it is sent, with the money and bounds helpers
(parse_amount, canonical_method, check_occurred_at, check_storable_text) and the state
read from the database: over a bound, it must answer 4xx and change no row; within the
bounds, it must succeed unless the state explains a refusal (session_closed,
insufficient_cash, limit_exceeded near the limit, ...), and a refusal changes no row
either. No answer is ever a 5xx. A POST sent twice with one Idempotency-Key answers the
same twice and stores nothing the second time.

After each example every page of the store must answer 200 (redirects followed):
tests/pages_of_a_location.py lists them from the URL confs, and a URL pattern that is
neither visited nor excluded with a reason fails the first test below. Requested after
every example: the registers page, the overviews (the store, all stores), every API list,
the reports and every CSV file (both dialects, streamed to the end and parsed), the admin's
index and changelists, and the pages of every object the example stored or changed
(session page, open/adjust/close forms, API details, admin change pages), or of the
latest object of a kind when it changed none; in the page's language drawn from en, nl
and de. The first example requests the pages of every object, and the pages that show
nothing an operation changes (the admin's add forms and history pages, reference data),
which the others leave out.

Database state: the whole run is one pytest-django test, so the test's transaction holds
the store built once (the `world` fixture: registers, staff, tokens, logged-in clients
and a closed history). Each Hypothesis example runs inside a savepoint
(`transaction.atomic()` marked for rollback), so everything it stores is undone before
the next one, also when it fails, and the clients' logins (made outside it) survive. The
clock is a ticking fake (`timezone.now` advances 1 ms per call from the real time), so a
time drawn a second past a bound is over it whatever the machine's load, and a failing
example replays exactly. Derandomized, without an example database, so CI runs the same
examples every time: 12 examples, each of 2 to 12 operations and 8 to 14 probes (an
operation with one field over its bound, refused and so cheap); some eighty page
requests end each example, about four seconds (a minute or so in all).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token, issue_user_token
from cashdrawer.bounds import BoundError, canonical_method, check_occurred_at, check_storable_text
from cashdrawer.forms import normalize_amount
from cashdrawer.models import (
    ApiToken,
    AuditEntry,
    Denomination,
    Location,
    Membership,
    PaymentMethod,
    Register,
)
from cashdrawer.money import (
    CEILING_MAX,
    DEFAULT_CEILING,
    FIGURE_LIMIT,
    AmountError,
    parse_amount,
    within_figure_limit,
)
from sessions_app import services
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import is_blind
from tests import pages_of_a_location as pages
from tests.conftest import LENIENT

pytestmark = pytest.mark.django_db

D = Decimal
# Each example ends with some eighty page requests, which bound how many a run can afford;
# a longer run: NO_INPUT_BREAKS_A_PAGE_EXAMPLES=200 scripts/test tests/test_no_input_...
EXAMPLES = int(os.environ.get("NO_INPUT_BREAKS_A_PAGE_EXAMPLES", "12"))
DEVICE = "device"

# --- drawing inputs ------------------------------------------------------------------------
#
# Each field of an operation has a strategy of values within its bounds ("good": odd but
# acceptable, and the bounds themselves) and one of values over them ("bad"). An operation
# breaks at most one field, so most operations are accepted and the store fills with odd
# data; the verdict is still computed from the values themselves, not from the strategy.

# Every general category: letters, marks, numbers, punctuation, symbols, separators, and
# the others (controls, format characters, surrogates, private use, unassigned).
CATEGORIES = [
    *"Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No".split(),  # noqa: SIM905
    *"Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So".split(),  # noqa: SIM905
    *"Zs Zl Zp Cc Cf Cs Co Cn".split(),  # noqa: SIM905
]
# Pieces that have broken pages elsewhere: bidi overrides, zero-width and combining
# characters, line breaks, formula prefixes for spreadsheets, markup, formatting
# placeholders, an emoji sequence, a character NFKC expands eighteenfold.
SPECIALS = [
    *"\u202e \u2066 \u200b \u200d \ufeff \t \u2028 \\ '\" \ufdfa \U0010fffd".split(" "),  # noqa: SIM905
    *"\r\n|\r|=1+1|+cmd|-2|@SUM(A1)|<script>alert(1)</script>|%(amount)s|%s|{0}".split("|"),  # noqa: SIM905
    *"{{ x }}|{% now %}|👨\u200d👩\u200d👧\u200d👦|e\u0301|𝔘𝔫𝔦|שובר|١٢٣".split("|"),  # noqa: SIM905
    "\u0300" * 12,
]
UNSTORABLE = ["\x00", "\ud800", "\udfff"]  # NUL, lone surrogates


def characters(*, storable: bool = True) -> st.SearchStrategy[str]:
    """A character of any general category, each category equally likely (surrogates and
    NUL only when not `storable`)."""
    categories = CATEGORIES if not storable else [c for c in CATEGORIES if c != "Cs"]
    chars = st.sampled_from(categories).flatmap(lambda c: st.characters(categories=[c]))
    return chars if not storable else chars.filter(lambda c: c != "\x00")


def _pieces(*, storable: bool = True, min_size: int = 0) -> st.SearchStrategy[str]:
    piece = st.one_of(characters(storable=storable), st.sampled_from(SPECIALS))
    return st.lists(piece, min_size=min_size, max_size=6).map("".join)


def _padded(head: str, fill: str, length: int) -> str:
    return (head + fill * length)[:length]


_FILL = characters().filter(lambda c: not c.isspace())


def good_texts(longest: int, *, required: bool = False) -> st.SearchStrategy[str]:
    """Odd but storable text, also of exactly `longest` characters (what str.strip()
    keeps: the services and forms trim first)."""
    short = _pieces(min_size=1 if required else 0)
    exact = st.builds(_padded, short, _FILL, st.just(longest))
    texts = st.one_of(short, short, exact).filter(lambda text: len(text.strip()) <= longest)
    return texts.filter(lambda text: text.strip()) if required else texts


def bad_texts(longest: int, *, required: bool = False) -> st.SearchStrategy[str]:
    """One character too long, or holding NUL or a lone surrogate, or blank if required."""
    too_long = st.builds(_padded, _pieces(), _FILL, st.just(longest + 1))
    unstorable = st.tuples(_pieces(), st.sampled_from(UNSTORABLE), _pieces()).map("".join)
    blank = st.sampled_from(["", "   ", "\u2028", "\t\r\n"])
    return st.one_of(too_long, unstorable, *([blank] if required else []))


class Raw(str):
    """Sent as a bare JSON number with exactly this text ("1e1000000", "45.50")."""


ABSENT = object()  # a field left out of the body
CENT = D("0.01")


def good_amounts(ceiling: Decimal, *, zero: bool = False) -> st.SearchStrategy[Any]:
    """An amount within the ceiling, in every spelling the API accepts: a string (with a
    trailing zero, with leading zeros), a JSON number, an integer."""
    lowest = D("0.00") if zero else CENT
    edges = st.sampled_from([lowest, CENT, ceiling - CENT, ceiling])
    values = st.one_of(st.decimals(min_value=lowest, max_value=ceiling, places=2), edges)
    return st.one_of(
        values.map(str),
        values.map(str),
        values.map(lambda d: Raw(str(d))),
        values.map(lambda d: f"{d}0"),
        values.map(lambda d: f"0000{d}"),
        st.integers(int(lowest) or 1, int(ceiling)),
    )


BAD_AMOUNT_TEXTS = [
    *"0.001 1.005 -0.01 -1.00 +5 5_0 4_5.00 1e3 1E+3 1e2 1.5e2 1e1000000 -1e1000000".split(),  # noqa: SIM905
    *"NaN Infinity sNaN 0x10 12,50 1.002,50 1.0000000000000000000000000001".split(),  # noqa: SIM905
    *["\u0664\u0665", "\uff14\uff15", "\u0e55", "\u0661\u0660\u0660", "5\u200b", "\u00a05"],
    *["", " ", " 5.00 ", "5 0", "0" * 39 + "1", "1" * 41, "999999999999", "999999999999.99"],
]


def bad_amounts(ceiling: Decimal, *, zero_is_bad: bool = False) -> st.SearchStrategy[Any]:
    """Above the ceiling or the figures' limit, not a number, or not a string or number."""
    above = [ceiling + CENT, FIGURE_LIMIT - CENT, FIGURE_LIMIT, FIGURE_LIMIT + CENT]
    raw = ["1e1000000", "1E3", "4.5e1", "1e-1000000", "1" * 45, "0.001"]
    return st.one_of(
        st.sampled_from(above).map(str),
        st.sampled_from(above).map(lambda d: Raw(str(d))),
        st.sampled_from(BAD_AMOUNT_TEXTS),
        st.sampled_from(raw).map(Raw),
        st.sampled_from([10**13, 10**16, -1, True, None, [], {"amount": "1.00"}]),
        *([st.sampled_from(["0", "0.00", Raw("0.0"), 0])] if zero_is_bad else []),
    )


def counted_amounts() -> st.SearchStrategy[Any]:
    """A counted total: no ceiling (it is the whole drawer), up to the figures' limit."""
    return st.one_of(
        good_amounts(D("1000000.00"), zero=True),
        st.sampled_from([FIGURE_LIMIT - CENT, FIGURE_LIMIT]).map(str),
    )


EUR_DENOMINATIONS = [
    D(v).quantize(CENT)
    for v in "0.01 0.02 0.05 0.10 0.20 0.50 1 2 5 10 20 50 100 200 500".split()  # noqa: SIM905
]


def decompose(target: Decimal) -> list[dict[str, Any]]:
    """A count that sums to `target`, largest notes first."""
    lines = []
    for value in sorted(EUR_DENOMINATIONS, reverse=True):
        quantity = int(target // value)
        if quantity:
            lines.append({"value": str(value), "quantity": quantity})
            target -= value * quantity
    return lines


def good_counts(ceiling: Decimal) -> st.SearchStrategy[list]:
    """A count within `ceiling`: a few coins and notes, or a total at the ceiling."""
    line = st.fixed_dictionaries(
        {
            "value": st.sampled_from(EUR_DENOMINATIONS).map(str),
            "quantity": st.integers(0, 3),
        }
    )
    few = st.lists(line, max_size=4, unique_by=lambda line: line["value"])
    small = few.filter(lambda lines: _sum(lines) <= ceiling)
    top = min(ceiling, D("100000000.00"))
    exact = st.one_of(
        st.sampled_from([top, top - CENT]), st.decimals(min_value=0, max_value=top, places=2)
    ).map(decompose)
    return st.one_of(small, exact, st.just([]))


def _sum(lines: list[dict]) -> Decimal:
    return sum((D(line["value"]) * line["quantity"] for line in lines), D("0.00"))


def bad_counts(ceiling: Decimal) -> st.SearchStrategy[Any]:
    """Above the ceiling (as an opening float), an unknown face value, a denomination
    twice, a quantity that is not a whole number from 0 to a million, not a list."""
    fine = st.fixed_dictionaries(
        {"value": st.sampled_from(EUR_DENOMINATIONS).map(str), "quantity": st.integers(0, 3)}
    )
    broken = st.one_of(
        st.fixed_dictionaries(
            {
                "value": st.sampled_from(["0.03", "1e1000000", "500.001", "\u0665", "", True]),
                "quantity": st.just(1),
            }
        ),
        st.fixed_dictionaries(
            {
                "value": st.just("50.00"),
                "quantity": st.sampled_from([1_000_001, -1, True, "3", Raw("2.0"), None]),
            }
        ),
    )
    return st.one_of(
        st.tuples(st.lists(fine, max_size=2), broken).map(lambda pair: [*pair[0], pair[1]]),
        st.just([{"value": "50.00", "quantity": 1}, {"value": "50.00", "quantity": 2}]),
        st.just(decompose(ceiling + CENT)),
        st.sampled_from([{"50.00": 2}, "50.00", 3]),
    )


@dataclass(frozen=True)
class Moment:
    """A sale's occurred_at, relative to the server's clock when it is sent."""

    kind: str  # "clock" (peek + seconds), "naive", "literal"
    seconds: float = 0
    offset: str = "+00:00"
    literal: Any = None
    parses: bool = True  # a literal the API reads as a time with its offset


FUTURE = dt.timedelta(minutes=5).total_seconds()
PAST = -dt.timedelta(days=90).total_seconds()
OFFSETS = st.sampled_from(["+00:00", "Z", "+14:00", "-12:00", "+05:45"])
# Far-off times: those that parse lie outside the bounds; the others are not times (an
# overflow when moved to UTC, a day that does not exist, a year of five digits, a number).
LITERAL_TIMES = [
    ("9999-12-31T23:30:00Z", True),
    ("0001-01-01T00:00:00Z", True),
    ("2000-01-01T00:00:00Z", True),
    ("9999-12-31T23:30:00-01:00", False),
    ("0001-01-01T00:30:00+01:00", False),
    ("2026-02-30T10:00:00Z", False),
    ("10000-01-01T00:00:00Z", False),
    ("yesterday", False),
    (1_700_000_000, False),
]


def good_moments() -> st.SearchStrategy[Moment | None]:
    """No time (now), or one within [clock - 90 days, clock + 5 minutes], at its ends."""
    seconds = st.one_of(
        st.sampled_from([FUTURE, FUTURE - 1, PAST + 60, PAST + 1]),
        st.integers(int(PAST) + 60, int(FUTURE) - 1),
    )
    clock = st.builds(Moment, kind=st.just("clock"), seconds=seconds, offset=OFFSETS)
    return st.one_of(st.none(), clock, clock)


def bad_moments() -> st.SearchStrategy[Moment]:
    """A second or a minute past either bound, years off, without an offset, not a time."""
    seconds = st.sampled_from([FUTURE + 1, FUTURE + 3600, PAST - 1, PAST - 60, PAST * 40])
    return st.one_of(
        st.builds(Moment, kind=st.just("clock"), seconds=seconds, offset=OFFSETS),
        st.sampled_from(LITERAL_TIMES).map(
            lambda pair: Moment("literal", literal=pair[0], parses=pair[1])
        ),
        st.just(Moment("naive", seconds=-60)),
    )


ODD_METHOD = "Bon\u200d Cadeau ✓ שובר \u0301🎁"
GOOD_METHODS = [
    *["cash", "card", "CASH", " Card ", "ca\u200bsh", "\uff43\uff41\uff53\uff48", "c\u00adash"],
    *[ODD_METHOD, ODD_METHOD.upper(), "\u200b" + canonical_method(ODD_METHOD) + "\u200c"],
]
BAD_METHODS = ["bitcoin", "cash" + "\u200b" * 40, "ca sh", "cash\x00"]
LATEST_METHOD = "<the method the admin added last, as it was typed>"
EXTERNAL_IDS = ["r-1", " r-1 ", "r-2", "hist-1"]  # repeats answer the first sale


def _pick(draw, broken: str | None, name: str, good, bad) -> Any:
    return draw(bad if broken == name else good)


def _broken(draw, *fields: str, force: str | None = None) -> str | None:
    """The one field to break: `force`, else none three times in five."""
    if force is not None:
        assert force in fields, force
        return force
    return draw(st.sampled_from([*[None] * (len(fields) * 3 // 2 + 1), *fields]))


def _as_a_browser_sends(text: str) -> str:
    """A browser cannot send a lone surrogate: it sends U+FFFD instead."""
    return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in text)


def typed(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """What a person types into a box of a form: text only, as a browser sends it."""
    return strategy.map(lambda value: _as_a_browser_sends(str(value)))


# --- operations --------------------------------------------------------------------------

REGISTERS = ["till", "blind", "main", "sub_a", "sub_b", "untracked"]
OPERATED = ["till", "blind", "main", "sub_a", "sub_b"]
COUNTS_BY_TOTAL = {"till", "untracked"}  # the others count by denominations
SUBS = {"sub_a", "sub_b"}
DEFAULT_FLOATS = {"till": D("150.00"), "blind": D("100.00")}


@dataclass(frozen=True)
class ApiOpen:
    register: str
    actor: str
    opening_float: Any = ABSENT
    opening_counts: Any = ABSENT
    note: Any = ABSENT
    register_id: str = "int"
    idempotency: str = "none"


@dataclass(frozen=True)
class ApiSale:
    register: str
    actor: str
    kind: Any
    payment_method: Any
    amount: Any
    occurred_at: Moment | None = None
    external_id: Any = ABSENT
    register_id: str = "int"
    idempotency: str = "none"


@dataclass(frozen=True)
class ApiAdjust:
    register: str
    actor: str
    direction: Any
    amount: Any
    reason: Any
    idempotency: str = "none"


@dataclass(frozen=True)
class ApiClose:
    register: str
    actor: str
    counted_cash: Any = ABSENT
    counts: Any = ABSENT
    retained_float: Any = ABSENT
    note: Any = ABSENT
    idempotency: str = "none"


@dataclass(frozen=True)
class ApiRename:
    target: str  # a register's key, or "location"
    name: Any


@dataclass(frozen=True)
class ApiDeviceToken:
    register: str
    name: Any


@dataclass(frozen=True)
class FormOpen:
    register: str
    opening_float: str | None  # typed as a total; None: counted in the grid
    grid: dict[str, str]
    note: str


@dataclass(frozen=True)
class FormAdjust:
    register: str
    direction: str
    amount: str
    reason: str


@dataclass(frozen=True)
class FormClose:
    register: str
    counted: str | None  # typed as a total; None: the grid (or nothing)
    grid: dict[str, str]
    not_counted: bool
    retained_float: str
    note: str


@dataclass(frozen=True)
class FormCorrect:
    register: str
    amount: str
    reason: str


@dataclass(frozen=True)
class AdminAddMethod:
    name: str


ACTORS = st.sampled_from(["manager", DEVICE])
IDEMPOTENCY = st.sampled_from(["none", "none", "key", "repeat"])
GOOD_ID, BAD_ID = st.just("int"), st.sampled_from(["str", "float", "bool"])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), strategy)


@st.composite
def api_opens(draw, ceiling: Decimal, force: str | None = None) -> ApiOpen:
    broken = _broken(draw, "register_id", "float", "note", force=force)
    by_count = draw(st.booleans())
    good_float = good_counts(ceiling) if by_count else good_amounts(ceiling, zero=True)
    bad_float = st.one_of(
        bad_counts(ceiling) if by_count else bad_amounts(ceiling),
        st.just("both"),
        st.just("neither"),
    )
    opening = _pick(draw, broken, "float", good_float, bad_float)
    fields = {"opening_counts" if by_count else "opening_float": opening}
    if opening == "both":
        fields = {"opening_float": "1.00", "opening_counts": []}
    elif opening == "neither":
        fields = {}
    return ApiOpen(
        register=draw(st.sampled_from(REGISTERS)),
        actor=draw(ACTORS),
        note=_pick(draw, broken, "note", _maybe(good_texts(2000)), bad_texts(2000)),
        register_id=_pick(draw, broken, "register_id", GOOD_ID, BAD_ID),
        idempotency=draw(IDEMPOTENCY),
        **fields,
    )


@st.composite
def api_sales(draw, ceiling: Decimal, force: str | None = None) -> ApiSale:
    fields = ("register_id", "kind", "payment_method", "amount", "occurred_at", "external_id")
    broken = _broken(draw, *fields, force=force)
    good_ids = st.one_of(st.sampled_from([ABSENT, None, *EXTERNAL_IDS]), good_texts(100))
    return ApiSale(
        register=draw(st.sampled_from(REGISTERS)),
        actor=draw(ACTORS),
        kind=_pick(
            draw,
            broken,
            "kind",
            st.sampled_from(["sale", "sale", "refund"]),
            st.sampled_from(["gift", "SALE", 1, None]),
        ),
        payment_method=_pick(
            draw,
            broken,
            "payment_method",
            st.sampled_from([*GOOD_METHODS, LATEST_METHOD]),
            st.one_of(
                st.sampled_from(BAD_METHODS),
                bad_texts(40, required=True),
                good_texts(40, required=True),  # odd, and no method of the store
            ),
        ),
        amount=_pick(draw, broken, "amount", good_amounts(ceiling), bad_amounts(ceiling)),
        occurred_at=_pick(draw, broken, "occurred_at", good_moments(), bad_moments()),
        external_id=_pick(draw, broken, "external_id", good_ids, bad_texts(100)),
        register_id=_pick(draw, broken, "register_id", GOOD_ID, BAD_ID),
        idempotency=draw(IDEMPOTENCY),
    )


@st.composite
def api_adjusts(draw, ceiling: Decimal, force: str | None = None) -> ApiAdjust:
    broken = _broken(draw, "direction", "amount", "reason", force=force)
    return ApiAdjust(
        register=draw(st.sampled_from(OPERATED)),
        actor=draw(ACTORS),
        direction=_pick(
            draw,
            broken,
            "direction",
            st.sampled_from(["in", "out", "out"]),
            st.sampled_from(["sideways", "IN", None]),
        ),
        amount=_pick(
            draw, broken, "amount", good_amounts(ceiling), bad_amounts(ceiling, zero_is_bad=True)
        ),
        reason=_pick(
            draw, broken, "reason", good_texts(200, required=True), bad_texts(200, required=True)
        ),
        idempotency=draw(IDEMPOTENCY),
    )


@st.composite
def api_closes(draw, ceiling: Decimal, force: str | None = None) -> ApiClose:
    register = draw(st.sampled_from(OPERATED))
    broken = _broken(draw, "count", "retained_float", "note", force=force)
    fields: dict[str, Any] = {}
    if register in SUBS:
        # A sub-register is never counted and keeps no float.
        bad = st.one_of(
            st.fixed_dictionaries({"counted_cash": counted_amounts()}),
            st.fixed_dictionaries({"counts": good_counts(D("1000.00"))}),
            st.fixed_dictionaries({"retained_float": good_amounts(ceiling)}),
        )
        good = st.one_of(st.just({}), st.just({"retained_float": "0.00"}))
        fields = _pick(draw, broken, "count", good, bad)
    else:
        by_total = register in COUNTS_BY_TOTAL
        good_count = st.one_of(
            st.just({}),  # not counted
            st.fixed_dictionaries({"counts": good_counts(D("1000000.00"))}),
            *([st.fixed_dictionaries({"counted_cash": counted_amounts()})] if by_total else []),
        )
        bad_count = st.one_of(
            st.fixed_dictionaries({"counts": bad_counts(D("1000000.00"))}),
            st.fixed_dictionaries(
                {"counted_cash": bad_amounts(FIGURE_LIMIT), "counts": st.just([])}
            ),
            *([] if by_total else [st.fixed_dictionaries({"counted_cash": counted_amounts()})]),
        )
        fields = _pick(draw, broken, "count", good_count, bad_count)
        counted = _count_of(fields)
        most = ceiling if counted is None else min(ceiling, counted)
        good_retained = _maybe(
            st.one_of(st.just("0.00"), st.decimals(min_value=0, max_value=most, places=2).map(str))
        )
        bad_retained = st.one_of(
            bad_amounts(ceiling), st.just(str(most + CENT)) if counted is not None else st.nothing()
        )
        retained = _pick(draw, broken, "retained_float", good_retained, bad_retained)
        if retained is not ABSENT:
            fields["retained_float"] = retained
    note = _pick(draw, broken, "note", _maybe(good_texts(2000)), bad_texts(2000))
    if note is not ABSENT:
        fields["note"] = note
    return ApiClose(register=register, actor=draw(ACTORS), idempotency=draw(IDEMPOTENCY), **fields)


def _count_of(fields: dict) -> Decimal | None:
    """The counted cash a (valid) close body gives, to draw a retained float below it."""
    if "counts" in fields and isinstance(fields["counts"], list):
        try:
            return _sum(fields["counts"])
        except (TypeError, ArithmeticError, ValueError):
            return None
    if "counted_cash" in fields:
        try:
            return D(str(fields["counted_cash"]).strip())
        except ArithmeticError:
            return None
    return None


GOOD_GRID = st.dictionaries(
    st.sampled_from([str(value) for value in EUR_DENOMINATIONS]),
    st.one_of(st.integers(0, 30).map(str), st.just("")),
    max_size=4,
)
BAD_GRID = st.tuples(GOOD_GRID, st.sampled_from(["x", "-1", "1000001", "2.5", "\u0663"])).map(
    lambda pair: {**pair[0], "50.00": pair[1]}
)


def _as_grid(lines: list[dict]) -> dict[str, str]:
    return {line["value"]: str(line["quantity"]) for line in lines}


@st.composite
def form_opens(draw, ceiling: Decimal, force: str | None = None) -> FormOpen:
    register = draw(st.sampled_from(OPERATED))
    broken = _broken(draw, "float", "note", force=force)
    by_total = register in COUNTS_BY_TOTAL and draw(st.booleans())
    opening_float, grid = None, {}
    if by_total:
        good = typed(good_amounts(ceiling, zero=True))
        opening_float = _pick(draw, broken, "float", good, typed(bad_amounts(ceiling)))
    else:
        good = good_counts(ceiling).map(_as_grid)
        grid = _pick(draw, broken, "float", good, BAD_GRID)
    note = _pick(draw, broken, "note", typed(good_texts(2000)), typed(bad_texts(2000)))
    return FormOpen(register=register, opening_float=opening_float, grid=grid, note=note)


@st.composite
def form_adjusts(draw, ceiling: Decimal, force: str | None = None) -> FormAdjust:
    broken = _broken(draw, "amount", "reason", force=force)
    return FormAdjust(
        register=draw(st.sampled_from(OPERATED)),
        direction=draw(st.sampled_from(["in", "out"])),
        amount=_pick(
            draw,
            broken,
            "amount",
            typed(good_amounts(ceiling)),
            typed(bad_amounts(ceiling, zero_is_bad=True)),
        ),
        reason=_pick(
            draw,
            broken,
            "reason",
            typed(good_texts(200, required=True)),
            typed(bad_texts(200, required=True)),
        ),
    )


@st.composite
def form_closes(draw, ceiling: Decimal, force: str | None = None) -> FormClose:
    register = draw(st.sampled_from(OPERATED))
    broken = _broken(draw, "count", "retained_float", "note", force=force)
    counted, grid, not_counted, retained = None, {}, False, ""
    if register not in SUBS:
        how = draw(st.sampled_from(["total", "grid", "not counted"]))
        if how == "total" and register not in COUNTS_BY_TOTAL:
            how = "grid"
        bad = st.one_of(st.just("both"), st.just("nothing"), BAD_GRID)
        if how == "total":
            bad = st.one_of(bad, typed(bad_amounts(FIGURE_LIMIT)))
        choice = _pick(draw, broken, "count", st.just(how), bad)
        if choice == "total":
            counted = draw(typed(counted_amounts()))
        elif choice == "grid":
            grid = draw(GOOD_GRID.filter(lambda grid: any(grid.values())))
        elif choice == "not counted":
            not_counted = True
        elif choice == "both":
            grid, not_counted = {"10.00": "1"}, True
        elif isinstance(choice, dict):
            grid = choice
        elif isinstance(choice, str) and choice != "nothing":
            counted = choice
        good_retained = st.one_of(st.just(""), st.sampled_from(["0", "0.00", "1.00"]))
        # The form keeps a retained float left at the register's default: the default
        # spelled in ways that are not amounts must not pass as it.
        default_spelled_oddly = st.sampled_from(
            ["1e2", "1.5e2", "\u0661\u0660\u0660", "\u0661\u0665\u0660", "+150", "1_00"]
        )
        bad_retained = st.one_of(typed(bad_amounts(ceiling)), default_spelled_oddly)
        retained = _pick(draw, broken, "retained_float", good_retained, bad_retained)
    note = _pick(draw, broken, "note", typed(good_texts(2000)), typed(bad_texts(2000)))
    return FormClose(register, counted, grid, not_counted, retained, note)


@st.composite
def form_corrects(draw, ceiling: Decimal, force: str | None = None) -> FormCorrect:
    broken = _broken(draw, "amount", "reason", force=force)
    good = st.one_of(
        typed(good_amounts(ceiling)), typed(good_amounts(ceiling)).map(lambda t: "-" + t.strip())
    )
    return FormCorrect(
        register=draw(st.sampled_from(OPERATED)),
        amount=_pick(draw, broken, "amount", good, typed(bad_amounts(ceiling, zero_is_bad=True))),
        reason=_pick(
            draw,
            broken,
            "reason",
            typed(good_texts(500, required=True)),
            typed(bad_texts(500, required=True)),
        ),
    )


def names(longest: int, *, required: bool) -> st.SearchStrategy[str]:
    return st.one_of(
        good_texts(longest, required=required),
        good_texts(longest, required=required),
        bad_texts(longest, required=required),
    )


# Each field of each operation that has a bound, by the operation that carries it.
PROBED_FIELDS = {
    api_sales: (
        "register_id",
        "kind",
        "payment_method",
        "amount",
        "occurred_at",
        "external_id",
    ),
    api_opens: ("register_id", "float", "note"),
    api_adjusts: ("direction", "amount", "reason"),
    api_closes: ("count", "retained_float", "note"),
    form_opens: ("float", "note"),
    form_adjusts: ("amount", "reason"),
    form_closes: ("count", "retained_float", "note"),
    form_corrects: ("amount", "reason"),
}


def probes(ceiling: Decimal) -> st.SearchStrategy[list]:
    """Operations with one field over its bound, about half of all the fields with a bound
    (each with a value drawn anew): refused, they store nothing and add no page to request
    afterwards, so an example affords many."""
    pairs = [(operation, name) for operation, names in PROBED_FIELDS.items() for name in names]
    chosen = st.lists(st.sampled_from(pairs), min_size=8, max_size=14, unique=True)

    def broken(pairs: list) -> st.SearchStrategy[tuple]:
        return st.tuples(*(operation(ceiling, force=name) for operation, name in pairs))

    return chosen.flatmap(broken).map(list)


def operations(ceiling: Decimal) -> st.SearchStrategy[Any]:
    """Mostly valid operations of every kind (three in five break no field)."""
    return st.one_of(
        api_sales(ceiling),
        api_sales(ceiling),
        api_sales(ceiling),
        api_opens(ceiling),
        api_adjusts(ceiling),
        api_adjusts(ceiling),
        api_closes(ceiling),
        api_closes(ceiling),
        form_opens(ceiling),
        form_adjusts(ceiling),
        form_closes(ceiling),
        form_corrects(ceiling),
        st.builds(
            ApiRename,
            target=st.sampled_from([*REGISTERS, "location"]),
            name=names(100, required=True),
        ),
        st.builds(
            ApiDeviceToken,
            register=st.sampled_from(REGISTERS),
            name=names(100, required=False),
        ),
        st.builds(AdminAddMethod, name=typed(names(40, required=True))),
    )


@dataclass(frozen=True)
class NearLimit:
    """A session whose running totals sit right below what a figure holds."""

    register: str
    figure: str  # "sales", "refunds", "out", "sub_cash"
    slack: Decimal


@dataclass(frozen=True)
class Scenario:
    ceiling: Decimal | None  # None: the default ceiling
    timezone: str | None
    language: str
    open_at_start: tuple[tuple[str, str], ...]  # (register, opening float)
    old_session: bool  # the blind register's session opened 89 days ago
    near_limit: NearLimit | None
    operations: list[Any]


@st.composite
def scenarios(draw) -> Scenario:
    ceiling = draw(st.sampled_from([None, None, D("500.00"), D("1.00"), CEILING_MAX]))
    effective = ceiling or DEFAULT_CEILING
    floats = st.sampled_from(["0.00", "0.01", str(effective - D("0.01")), str(effective)])
    open_at_start = tuple(
        (key, draw(floats)) for key in ("till", "blind", "main", "sub_a") if draw(st.booleans())
    )
    if ("sub_a" in dict(open_at_start)) and "main" not in dict(open_at_start):
        open_at_start = (("main", "0.00"), *open_at_start)
    near_limit = draw(
        st.one_of(
            st.none(),
            st.none(),
            st.builds(
                NearLimit,
                register=st.sampled_from(["till", "blind", "main"]),
                figure=st.sampled_from(["sales", "refunds", "out", "sub_cash"]),
                slack=st.sampled_from([D("0.00"), D("0.01"), D("1.00"), effective]),
            ),
        )
    )
    return Scenario(
        ceiling=ceiling,
        timezone=draw(
            st.sampled_from(
                [None, None, "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu"]
            )
        ),
        language=draw(st.sampled_from(["en", "nl", "de"])),
        open_at_start=open_at_start,
        old_session=draw(st.booleans()),
        near_limit=near_limit,
        operations=draw(
            st.permutations(
                draw(st.lists(operations(effective), min_size=2, max_size=12))
                + draw(probes(effective))
            )
        ),
    )


# --- the store ----------------------------------------------------------------------------


@dataclass
class World:
    location: Location
    registers: dict[str, Register]
    manager: Any
    cashier: Any
    root: Any
    clients: dict[str, Any]  # pages.MANAGER, CASHIER, ADMIN, TOKEN, DEVICE
    device_clients: dict[str, APIClient]  # per register key
    browser: Client  # the manager's browser, for the forms
    seen: set[str] = field(default_factory=set)  # URL names requested over the whole run


def _api_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(make_register, make_user) -> World:
    location = Location.objects.create(
        name="Amsterdam \u202eCentrum\u202c 🏪",
        currency="EUR",
        timezone="Europe/Amsterdam",
        discrepancy_threshold=LENIENT,
    )
    elsewhere = Location.objects.create(
        name="東京 新宿", currency="JPY", timezone="Asia/Tokyo", discrepancy_threshold=LENIENT
    )
    PaymentMethod.objects.create(location=location, name=ODD_METHOD)
    main = make_register(location, name="Main C", code="main", role="main")
    registers = {
        "till": make_register(
            location, name="Till 1", code="till", default_float=D("150.00"), count_method="total"
        ),
        "blind": make_register(
            location,
            name="Kasse \u0662 🧾 \u200fblind",
            code="blind",
            default_float=D("100.00"),
            blind_close=True,
        ),
        "main": main,
        "sub_a": make_register(
            location, name="Sub A \u202dñ", code="sub-a", role="sub", main_register=main
        ),
        "sub_b": make_register(
            location, name="Sub B", code="sub-b", role="sub", main_register=main
        ),
        "untracked": make_register(
            location, name="Untracked", code="untracked", cash_tracking=False, count_method="total"
        ),
    }
    make_register(elsewhere, name="レジ 1", code="tokyo-1", count_method="total")
    manager = make_user("maria", location=location, role="manager", first_name="María \u202e")
    Membership.objects.create(user=manager, location=elsewhere, role="manager")
    cashier = make_user("carl", location=location, role="cashier", first_name="Carl 👨\u200d👧")
    root = make_user("root", is_superuser=True, is_staff=True)
    _history(registers, manager)
    device_clients = {
        key: _api_client(
            issue_device_token(register=register, by=manager, name=f"{register.name} ⌁").secret
        )
        for key, register in registers.items()
    }
    browser = _browser(manager)
    clients = {
        pages.MANAGER: browser,
        pages.CASHIER: _browser(cashier),
        pages.ADMIN: _browser(root),
        pages.TOKEN: _api_client(issue_user_token(user=manager).secret),
        pages.DEVICE: device_clients["blind"],
    }
    return World(location, registers, manager, cashier, root, clients, device_clients, browser)


def _history(registers: dict[str, Register], manager) -> None:
    """Closed sessions of ten days ago, so every kind of record exists in every example:
    transactions of each method, adjustments, counts, a correction, a shared closing with
    its transfers, a close without a count (and its alert), and a sale on a register without
    cash tracking."""
    start = timezone.now() - dt.timedelta(days=10)
    at = lambda hours: start + dt.timedelta(hours=hours)  # noqa: E731
    till = registers["till"]
    session = services.open_session(register=till, opening_float="150.00", by=manager, at=at(0))
    for hours, kind, method, amount, external_id in [
        (1, "sale", "cash", "45.50", "hist-1"),
        (2, "sale", "card", "80.00", None),
        (3, "sale", ODD_METHOD, "12.00", None),
        (4, "refund", "cash", "5.50", None),
    ]:
        services.record_transaction(
            register=till,
            kind=kind,
            payment_method=method,
            amount=amount,
            occurred_at=at(hours),
            received_at=at(hours),
            external_id=external_id,
            by=manager,
        )
    services.adjust_float(
        session=session,
        direction="out",
        amount="10.00",
        reason="drawer over limit",
        by=manager,
        at=at(5),
    )
    services.close_session(
        session=session, counted="178.00", retained_float="150.00", by=manager, at=at(8)
    )
    services.add_correction(
        session=session, amount="-1.50", reason="a coin under the drawer", by=manager, at=at(9)
    )
    main = services.open_session(
        register=registers["main"],
        opening_counts=[{"value": "50.00", "quantity": 2}],
        by=manager,
        at=at(24),
    )
    for key in ("sub_a", "sub_b"):
        sub = services.open_session(
            register=registers[key], opening_float="0.00", by=manager, at=at(25)
        )
        services.record_transaction(
            register=registers[key],
            kind="sale",
            payment_method="cash",
            amount="300.00",
            occurred_at=at(26),
            received_at=at(26),
            by=manager,
        )
        services.close_session(session=sub, by=manager, at=at(30))
    services.close_session(
        session=main, counts=[{"value": "200.00", "quantity": 3}], by=manager, at=at(32)
    )
    # A close without a count: its alert is in every example (the alerts pages, the admin).
    # (On the till, with its float of 150.00 kept, so what it leaves for the next open stays.)
    uncounted = services.open_session(register=till, opening_float="150.00", by=manager, at=at(34))
    services.close_session(session=uncounted, by=manager, at=at(36))
    services.record_transaction(
        register=registers["untracked"],
        kind="sale",
        payment_method="card",
        amount="9.99",
        occurred_at=at(2),
        received_at=at(2),
        by=manager,
    )


# --- running an example ---------------------------------------------------------------------


class TickingClock:
    """timezone.now() for one example: the real time when it starts, then 1 ms later on
    every call, so times are strictly ordered and a bound drawn a second away is a second
    away, however slow the machine."""

    TICK = dt.timedelta(milliseconds=1)

    def __init__(self) -> None:
        self._now = dt.datetime.now(dt.UTC)

    def peek(self) -> dt.datetime:
        return self._now

    def __call__(self) -> dt.datetime:
        self._now += self.TICK
        return self._now


@contextmanager
def rolled_back() -> Iterator[None]:
    """A savepoint that is always rolled back: the example leaves nothing behind."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


SNAPSHOT = (
    TrackingSession,
    Transaction,
    Adjustment,
    CountLine,
    ClosingTransfer,
    Correction,
    AuditEntry,
    Location,
    Register,
    PaymentMethod,
    Membership,
)


def snapshot() -> dict[str, list[dict]]:
    """Every row the operations may write (tokens without their last use)."""
    rows = {model.__name__: list(model.objects.order_by("pk").values()) for model in SNAPSHOT}
    rows["ApiToken"] = list(ApiToken.objects.order_by("pk").values("id", "name", "digest"))
    return rows


def fingerprint() -> str:
    """A hash of the same rows, in one query: cheap enough to take around every request."""
    tables = [f"SELECT t::text FROM {model._meta.db_table} t" for model in SNAPSHOT]
    tables.append(f"SELECT concat_ws('|', id, name, digest) FROM {ApiToken._meta.db_table}")
    aggregates = [
        f"(SELECT md5(coalesce(string_agg(row, ',' ORDER BY row), '')) FROM ({query}) rows (row))"
        for query in tables
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + " || ".join(aggregates))
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str  # the 409 code, or the field a 400 names; "" for a form: any message


@dataclass
class Expect:
    """What an input may answer, decided before it is sent."""

    over: list[str] = field(default_factory=list)  # bounds the input passes
    must: set[Refusal] = field(default_factory=set)  # the state refuses it (one of these)
    may: set[Refusal] = field(default_factory=set)  # the state may refuse it
    success: tuple[int, ...] = (200, 201)
    changes_nothing: bool = False  # a success that stores nothing (a repeated external_id)

    def bound(self, condition: bool, name: str) -> None:
        if condition:
            self.over.append(name)


LIMIT_EXCEEDED = Refusal(409, "limit_exceeded")
API_AMOUNT = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")


class Run:
    """One example: the store's state, the clock, and a check of every answer."""

    def __init__(self, world: World, scenario: Scenario, clock: TickingClock) -> None:
        self.world = world
        self.scenario = scenario
        self.clock = clock
        self.near_limit: set[int] = set()  # sessions whose figures sit below the limit
        self.added_methods: list[str] = []  # payment methods the admin added, as typed
        self.keys = itertools.count(1)

    # state, read fresh

    @property
    def location(self) -> Location:
        return Location.objects.get(pk=self.world.location.pk)

    def register(self, key: str) -> Register:
        return Register.objects.select_related("location", "main_register").get(
            pk=self.world.registers[key].pk
        )

    def open_session(self, register: Register) -> TrackingSession | None:
        return (
            TrackingSession.objects.select_related("register", "main_session__register")
            .filter(register=register, status=TrackingSession.Status.OPEN)
            .first()
        )

    def target(self, register: Register, *, closed: bool = False) -> TrackingSession | None:
        """The session an operation on the register acts on: its open one (or for a
        correction its last closed one), else its latest."""
        sessions = TrackingSession.objects.select_related(
            "register", "main_session__register", "location"
        ).filter(register=register)
        preferred = sessions.filter(status="closed" if closed else "open")
        return (
            preferred.order_by("-opened_at", "-pk").first()
            or sessions.order_by("-opened_at", "-pk").first()
        )

    @property
    def ceiling(self) -> Decimal:
        return self.location.max_amount

    # classifying inputs

    def amount_over(self, value: Any, *, ceiling: bool = True, negative: bool = False) -> bool:
        """Whether the service refuses this amount as the API delivers it to it."""
        if value is ABSENT or value is None:
            return True
        received = _as_parsed(value)
        if isinstance(received, (bool, list, dict)):
            return True
        try:
            parse_amount(
                received,
                currency=self.location.currency,
                allow_negative=negative,
                ceiling=self.ceiling if ceiling else None,
            )
        except AmountError:
            return True
        return False

    def api_amount_over(self, value: Any, *, ceiling: bool = True) -> bool:
        """The same for the API, which takes an amount as a JSON number or as a string of
        ASCII digits with at most one point, nothing else (no sign, no spaces), at most 40
        characters (API.md "Money")."""
        text = isinstance(value, str) and not isinstance(value, Raw)
        if text and (len(value) > 40 or not API_AMOUNT.fullmatch(value)):
            return True
        return self.amount_over(value, ceiling=ceiling)

    def amount(self, value: Any, *, negative: bool = False) -> Decimal:
        return parse_amount(
            _as_parsed(value),
            currency=self.location.currency,
            allow_negative=negative,
            ceiling=None,
        )

    def typed_amount_over(self, text: str, *, ceiling: bool = True, negative=False) -> bool:
        """The same for an amount typed into a form (at most 30 characters, trimmed, in
        the page's language)."""
        text = text.strip()
        if not text:
            return True
        with translation.override("en"):
            normalized = normalize_amount(text)
        if len(normalized) > 30:  # the box's length, checked after normalizing
            return True
        return self.amount_over(normalized, ceiling=ceiling, negative=negative)

    def count_total(self, lines: Any) -> Decimal | None:
        """The total of a count, or None when the count itself is refused."""
        if not isinstance(lines, list):
            return None
        known = set(
            Denomination.objects.filter(currency=self.location.currency).values_list(
                "value", flat=True
            )
        )
        seen: set[Decimal] = set()
        total = D("0.00")
        for line in lines:
            value, quantity = line.get("value"), line.get("quantity")
            if self.amount_over(value, ceiling=False):
                return None
            value = self.amount(value)
            if value not in known or value in seen:
                return None
            seen.add(value)
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                return None
            if not 0 <= quantity <= services.MAX_QUANTITY:
                return None
            total += value * quantity
        return total

    def grid_count(self, grid: dict[str, str]) -> list[dict] | None:
        """A typed grid as the form hands it on; None when a box holds no whole number."""
        lines = []
        for key, typed in sorted(grid.items()):
            text = typed.strip()
            if not text:
                continue
            if not text.isascii() or not text.lstrip("-").isdigit():
                return None
            quantity = int(text)
            if not 0 <= quantity <= services.MAX_QUANTITY:
                return None
            lines.append({"value": key, "quantity": quantity})
        return lines

    @staticmethod
    def text_over(value: Any, longest: int, *, required: bool, strip: bool = True) -> bool:
        if value is ABSENT or value is None:
            return required
        if not isinstance(value, str):
            return True
        text = value.strip() if strip else value
        if required and not text.strip():
            return True
        try:
            check_storable_text(value)
        except BoundError:
            return True
        return len(text) > longest

    @classmethod
    def api_text_over(cls, value: Any, longest: int, *, required: bool) -> bool:
        """The same for the API, which counts the length as sent, before trimming."""
        too_long = isinstance(value, str) and len(value) > longest
        return too_long or cls.text_over(value, longest, required=required)

    def moment(self, moment: Moment | None) -> tuple[Any, bool | None]:
        """occurred_at as sent, and whether it is over the bounds (None: absent)."""
        if moment is None:
            return ABSENT, None
        if moment.kind == "literal":
            return moment.literal, True
        now = self.clock.peek()
        occurred = now + dt.timedelta(seconds=moment.seconds)
        if moment.kind == "naive":
            return occurred.replace(tzinfo=None).isoformat(), True
        zone = (
            dt.UTC
            if moment.offset == "Z"
            else dt.datetime.fromisoformat("2000-01-01T00:00:00" + moment.offset).tzinfo
        )
        text = occurred.astimezone(zone).isoformat()
        if moment.offset == "Z":
            text = text.replace("+00:00", "Z")
        # The server reads its clock a few ticks later: the verdict must hold for any
        # arrival within half a second (500 ticks).
        verdicts = set()
        for received in (now, now + dt.timedelta(seconds=0.5)):
            try:
                check_occurred_at(occurred, received_at=received)
                verdicts.add(False)
            except BoundError:
                verdicts.add(True)
        assert len(verdicts) == 1, f"{moment} lies on its bound: draw it further away"
        return text, verdicts.pop()

    def may_exceed(self, *sessions: TrackingSession | None) -> set[Refusal]:
        near = any(s is not None and s.pk in self.near_limit for s in sessions)
        return {LIMIT_EXCEEDED} if near else set()

    # sending

    def post_json(self, op, client: APIClient, url: str, body: dict) -> Any:
        headers = {}
        if getattr(op, "idempotency", "none") != "none":
            headers["HTTP_IDEMPOTENCY_KEY"] = f"key-{next(self.keys)}"
        payload = _json(body)
        response = client.post(url, payload, content_type="application/json", **headers)
        if getattr(op, "idempotency", "none") == "repeat":
            after = fingerprint()
            again = client.post(url, payload, content_type="application/json", **headers)
            assert again.status_code == response.status_code, (op, again.content[:500])
            if 200 <= response.status_code < 300:
                assert again.json() == response.json(), op
                assert again.headers.get("Idempotent-Replayed") == "true", op
            assert fingerprint() == after, f"a repeat with the same key changed rows: {op}"
        return response

    def client(self, actor: str, register_key: str) -> APIClient:
        if actor == DEVICE:
            return self.world.device_clients[register_key]
        return self.world.clients[pages.TOKEN]

    def check(self, op: Any, response: Any, expect: Expect, before: str) -> None:
        status = response.status_code
        body = _body(response)
        about = f"{op}\n-> {status} {body!r:.800}\nexpected {expect}"
        assert status < 500, about
        after = fingerprint()
        if expect.over:
            assert 400 <= status < 500, about
            assert after == before, f"a refused input changed rows: {about}"
            return
        refused = next((r for r in expect.must | expect.may if _refused(response, r)), None)
        if expect.must or status not in expect.success:
            assert refused is not None, about
        if refused is not None or expect.changes_nothing:
            assert after == before, f"a refusal changed rows: {about}"
        else:
            assert after != before, f"a success stored nothing: {about}"

    # the operations

    def run(self, op: Any) -> None:
        handler = getattr(self, f"run_{type(op).__name__}")
        before = fingerprint()
        outcome = handler(op)
        if outcome is not None:
            response, expect = outcome
            self.check(op, response, expect, before)

    def run_ApiOpen(self, op: ApiOpen):
        register = self.register(op.register)
        expect = Expect(success=(201,))
        body = {"register": _id(register.pk, op.register_id)}
        expect.bound(op.register_id != "int", "id")
        for name in ("opening_float", "opening_counts", "note"):
            if getattr(op, name) is not ABSENT:
                body[name] = getattr(op, name)
        given_float = op.opening_float is not ABSENT and op.opening_float is not None
        given_counts = op.opening_counts is not ABSENT and op.opening_counts is not None
        expect.bound(given_float and given_counts, "a total and a count")
        expect.bound(not given_float and not given_counts, "no float")
        if given_float:
            expect.bound(self.api_amount_over(op.opening_float), "opening float")
        if given_counts:
            total = self.count_total(op.opening_counts)
            expect.bound(total is None or self.amount_over(total), "opening count")
        expect.bound(self.api_text_over(op.note, 2000, required=False), "note")
        self._refusals_of_opening(register, expect)
        client = self.client(op.actor, op.register)
        return self.post_json(op, client, "/api/v1/sessions/", body), expect

    def _refusals_of_opening(self, register: Register, expect: Expect) -> None:
        if not register.cash_tracking:
            expect.must.add(Refusal(409, "cash_tracking_off"))
        elif self.open_session(register) is not None:
            expect.must.add(Refusal(409, "session_already_open"))
        elif register.is_sub and self.open_session(register.main_register) is None:
            expect.must.add(Refusal(409, "main_session_not_open"))

    def run_ApiSale(self, op: ApiSale):
        register = self.register(op.register)
        if op.payment_method == LATEST_METHOD:
            latest = self.added_methods[-1] if self.added_methods else ODD_METHOD
            op = replace(op, payment_method=latest)
        expect = Expect(success=(201,))
        occurred_at, time_over = self.moment(op.occurred_at)
        body = {
            "register": _id(register.pk, op.register_id),
            "kind": op.kind,
            "payment_method": op.payment_method,
            "amount": op.amount,
        }
        if occurred_at is not ABSENT:
            body["occurred_at"] = occurred_at
        if op.external_id is not ABSENT:
            body["external_id"] = op.external_id
        expect.bound(op.register_id != "int", "id")
        expect.bound(op.kind not in ("sale", "refund"), "kind")
        method_over = self.api_text_over(op.payment_method, 40, required=True)
        known = set(register.location.payment_methods.values_list("name", flat=True))
        expect.bound(
            method_over or canonical_method(op.payment_method.strip()) not in known,
            "payment method",
        )
        expect.bound(self.api_amount_over(op.amount), "amount")
        expect.bound(self.api_text_over(op.external_id, 100, required=False), "external id")
        # A time that is not a time with its offset is refused before anything else; one
        # outside the bounds only after a repeated external_id has been answered.
        moment = op.occurred_at
        unparsed = moment is not None and (moment.kind == "naive" or not moment.parses)
        expect.bound(unparsed, "occurred_at")
        external_id = op.external_id.strip() if isinstance(op.external_id, str) else ""
        repeated = (
            not expect.over
            and bool(external_id)
            and Transaction.objects.filter(register=register, external_id=external_id).exists()
        )
        if repeated:
            expect.success, expect.changes_nothing = (200,), True
        else:
            expect.bound(bool(time_over), "occurred_at")
            session = self.open_session(register)
            opens_a_sub = register.cash_tracking and session is None and register.is_sub
            if opens_a_sub and self.open_session(register.main_register) is None:
                expect.must.add(Refusal(409, "main_session_not_open"))
            expect.may |= self.may_exceed(session)
        client = self.client(op.actor, op.register)
        return self.post_json(op, client, "/api/v1/transactions/", body), expect

    def _refusals_of_adjusting(
        self, session: TrackingSession, direction: str, amount: Decimal, sees: bool, expect
    ) -> None:
        if not session.is_open:
            expect.must.add(Refusal(409, "session_closed"))
            return
        expect.may |= self.may_exceed(session)
        # On a blind session, whoever may not see the expected cash is not refused (a
        # refusal would tell them): the cash out is booked and shows at the close.
        more_than_the_drawer = direction == "out" and amount > session.current_expected_cash
        if more_than_the_drawer and (sees or not is_blind(session)):
            expect.must.add(Refusal(409, "insufficient_cash"))

    def run_ApiAdjust(self, op: ApiAdjust):
        register = self.register(op.register)
        session = self.target(register)
        if session is None:
            return None
        expect = Expect(success=(201,))
        expect.bound(op.direction not in ("in", "out"), "direction")
        over = self.api_amount_over(op.amount)
        expect.bound(over or self.amount(op.amount) == 0, "amount")
        expect.bound(self.api_text_over(op.reason, 200, required=True), "reason")
        if not expect.over:
            sees = op.actor != DEVICE
            self._refusals_of_adjusting(session, op.direction, self.amount(op.amount), sees, expect)
        body = {"direction": op.direction, "amount": op.amount, "reason": op.reason}
        client = self.client(op.actor, op.register)
        url = f"/api/v1/sessions/{session.pk}/adjustments/"
        return self.post_json(op, client, url, body), expect

    def _refusals_of_closing(
        self,
        session: TrackingSession,
        counted: Decimal | None,
        retained: Decimal | None,
        expect: Expect,
    ) -> None:
        if not session.is_open:
            expect.must.add(Refusal(409, "session_closed"))
            return
        register = session.register
        if register.is_main and session.sub_sessions.filter(status="open").exists():
            expect.must.add(Refusal(409, "sub_sessions_open"))
            return
        if register.is_sub:
            main = TrackingSession.objects.get(pk=session.main_session_id)
            expect.may |= self.may_exceed(session, main)
            return
        # The figures the close would store (DOMAIN.md rule 6), each within its column.
        expected = session.current_expected_cash
        drawer = max(expected if counted is None else counted, D("0"))
        if retained is None:
            retained = min(register.default_float or D("0"), drawer)
        elif retained > drawer:
            expect.must.add(Refusal(400, "retained_float"))
            return
        end = None if counted is None else counted - expected
        removed = (expected if counted is None else counted) - retained
        total = session.start_discrepancy + (end or D("0"))
        if not within_figure_limit(expected, counted, end, removed, total):
            expect.must.add(LIMIT_EXCEEDED)

    def run_ApiClose(self, op: ApiClose):
        register = self.register(op.register)
        session = self.target(register)
        if session is None:
            return None
        expect = Expect(success=(200,))
        given = lambda value: value is not ABSENT and value is not None  # noqa: E731
        expect.bound(given(op.counted_cash) and given(op.counts), "a total and a count")
        counted = retained = None
        if register.is_sub:
            expect.bound(given(op.counted_cash) or given(op.counts), "a count of a sub")
            if given(op.retained_float):
                over = self.api_amount_over(op.retained_float)
                expect.bound(over or self.amount(op.retained_float) != 0, "a sub's float")
        else:
            if given(op.counts):
                counted = self.count_total(op.counts)
                expect.bound(counted is None, "count")
            elif given(op.counted_cash):
                expect.bound(register.count_method == "denominations", "a total, not a count")
                expect.bound(self.api_amount_over(op.counted_cash, ceiling=False), "counted cash")
                if not expect.over:
                    counted = self.amount(op.counted_cash)
            if given(op.retained_float):
                expect.bound(self.api_amount_over(op.retained_float), "retained float")
                if not expect.over:
                    retained = self.amount(op.retained_float)
            if counted is not None and retained is not None:
                expect.bound(retained > max(counted, D("0")), "retained above counted")
        expect.bound(self.api_text_over(op.note, 2000, required=False), "note")
        if not expect.over:
            self._refusals_of_closing(session, counted, retained, expect)
        body = {
            name: getattr(op, name)
            for name in ("counted_cash", "counts", "retained_float", "note")
            if getattr(op, name) is not ABSENT
        }
        client = self.client(op.actor, op.register)
        url = f"/api/v1/sessions/{session.pk}/close/"
        return self.post_json(op, client, url, body), expect

    def run_ApiRename(self, op: ApiRename):
        client = self.world.clients[pages.TOKEN]
        expect = Expect(success=(200,))
        expect.bound(self.api_text_over(op.name, 100, required=True), "name")
        if op.target == "location":
            url = f"/api/v1/locations/{self.world.location.pk}/"
            if isinstance(op.name, str) and not expect.over:
                taken = Location.objects.exclude(pk=self.world.location.pk)
                if taken.filter(name=op.name.strip()).exists():
                    expect.must.add(Refusal(400, "name"))
        else:
            register = self.register(op.target)
            url = f"/api/v1/registers/{register.pk}/"
            if register.default_float is not None and register.default_float > self.ceiling:
                expect.must.add(Refusal(400, "default_float"))  # the ceiling was lowered
        return client.patch(url, _json({"name": op.name}), content_type="application/json"), expect

    def run_ApiDeviceToken(self, op: ApiDeviceToken):
        register = self.register(op.register)
        expect = Expect(success=(201,))
        expect.bound(self.api_text_over(op.name, 100, required=False), "name")
        client = self.world.clients[pages.TOKEN]
        url = f"/api/v1/registers/{register.pk}/device-tokens/"
        return client.post(url, _json({"name": op.name}), content_type="application/json"), expect

    # the register pages' forms (a manager's browser, in English)

    def post_form(self, url: str, data: dict) -> Any:
        return self.world.browser.post(url, data, HTTP_ACCEPT_LANGUAGE="en")

    def run_FormOpen(self, op: FormOpen):
        register = self.register(op.register)
        expect = Expect(success=(302,))
        data: dict[str, str] = {"note": op.note}
        by_total = op.opening_float is not None and register.count_method == "total"
        if by_total:
            data |= {"method": "total", "opening_float": op.opening_float}
            expect.bound(self.typed_amount_over(op.opening_float), "opening float")
        else:
            if register.count_method == "total":
                data["method"] = "denominations"
            data |= {f"count_{key}": quantity for key, quantity in op.grid.items()}
            lines = self.grid_count(op.grid)
            total = None if lines is None else self.count_total(lines)
            expect.bound(total is None or self.amount_over(total), "opening count")
        expect.bound(self.text_over(op.note, 2000, required=False), "note")
        if not expect.over:
            self._refusals_of_opening(register, expect)
            expect.must = {Refusal(r.status, "") for r in expect.must}
        return self.post_form(reverse("operations:open", args=[register.pk]), data), expect

    def run_FormAdjust(self, op: FormAdjust):
        register = self.register(op.register)
        session = self.target(register)
        if session is None:
            return None
        expect = Expect(success=(302,))
        over = self.typed_amount_over(op.amount)
        expect.bound(over or self.amount(_typed(op.amount)) == 0, "amount")
        expect.bound(self.text_over(op.reason, 200, required=True), "reason")
        if not expect.over:
            amount = self.amount(_typed(op.amount))
            self._refusals_of_adjusting(session, op.direction, amount, True, expect)
            expect.must = {Refusal(r.status, "") for r in expect.must}
            expect.may = {Refusal(r.status, "") for r in expect.may}
        data = {"direction": op.direction, "amount": op.amount, "reason": op.reason}
        return self.post_form(reverse("operations:adjust", args=[session.pk]), data), expect

    def run_FormClose(self, op: FormClose):
        register = self.register(op.register)
        session = self.target(register)
        if session is None:
            return None
        expect = Expect(success=(302,))
        data: dict[str, str] = {"note": op.note}
        counted = retained = None
        if not register.is_sub:
            by_total = op.counted is not None and register.count_method == "total"
            if by_total:
                data |= {"method": "total", "counted": op.counted}
                typed_a_count = bool(op.counted.strip())
                if typed_a_count and not op.not_counted:
                    over = self.typed_amount_over(op.counted, ceiling=False)
                    expect.bound(over, "counted cash")
                    counted = None if over else self.amount(_typed(op.counted))
            else:
                if register.count_method == "total":
                    data["method"] = "denominations"
                data |= {f"count_{key}": quantity for key, quantity in op.grid.items()}
                lines = self.grid_count(op.grid)
                expect.bound(lines is None, "count")
                typed_a_count = bool(lines)
                if lines and not op.not_counted:
                    counted = self.count_total(lines)
                    expect.bound(counted is None, "count")
            if op.not_counted:
                data["not_counted"] = "on"
            expect.bound(op.not_counted and typed_a_count, "a count and 'not counted'")
            expect.bound(not op.not_counted and not typed_a_count, "no count")
            data["retained_float"] = op.retained_float
            retained = self._typed_retained(op.retained_float, register, expect)
            if counted is not None and retained is not None:
                expect.bound(retained > max(counted, D("0")), "retained above counted")
        expect.bound(self.text_over(op.note, 2000, required=False), "note")
        if not expect.over:
            self._refusals_of_closing(session, counted, retained, expect)
            expect.must = {Refusal(r.status, "") for r in expect.must}
            expect.may = {Refusal(r.status, "") for r in expect.may}
        if not session.is_open:
            # A close sent again, whatever it holds, leads to the closed session's page.
            expect = Expect(success=(302,), changes_nothing=True)
        return self.post_form(reverse("operations:close", args=[session.pk]), data), expect

    def _typed_retained(self, typed: str, register: Register, expect: Expect) -> Decimal | None:
        """A retained float typed into the close form; None: the service's default."""
        if not typed.strip():
            return None
        over = self.typed_amount_over(typed)
        expect.bound(over, "retained float")
        if over:
            return None
        retained = self.amount(_typed(typed))
        if register.default_float is not None and retained == register.default_float:
            return None  # left at the pre-filled default: the service's own rule applies
        return retained

    def run_FormCorrect(self, op: FormCorrect):
        register = self.register(op.register)
        session = self.target(register, closed=True)
        if session is None:
            return None
        expect = Expect(success=(302,))
        over = self.typed_amount_over(op.amount, negative=True)
        expect.bound(over or self.amount(_typed(op.amount), negative=True) == 0, "amount")
        expect.bound(self.text_over(op.reason, 500, required=True), "reason")
        if not expect.over and session.is_open:
            # Refused with a message on the session page it redirects to; nothing stored.
            expect.must.add(Refusal(302, ""))
        data = {"amount": op.amount, "reason": op.reason}
        return self.post_form(reverse("reports:add_correction", args=[session.pk]), data), expect

    def run_AdminAddMethod(self, op: AdminAddMethod):
        """The admin answers a refused form with 200 and the errors (Django's way); a saved
        one redirects."""
        location = self.location
        methods = list(location.payment_methods.order_by("pk"))
        data = {
            "name": location.name,
            "currency": location.currency,
            "timezone": location.timezone,
            "max_amount": str(location.max_amount),
            "discrepancy_threshold": str(location.discrepancy_threshold),
            "_save": "Save",
            "payment_methods-TOTAL_FORMS": str(len(methods) + 1),
            "payment_methods-INITIAL_FORMS": str(len(methods)),
        }
        for index, method in enumerate([*methods, None]):
            data[f"payment_methods-{index}-id"] = str(method.pk) if method else ""
            data[f"payment_methods-{index}-location"] = str(location.pk)
            data[f"payment_methods-{index}-name"] = method.name if method else op.name
        for prefix in ("registers", "memberships"):
            data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
        text = op.name.strip()
        name = canonical_method(text)
        # A row left blank is no new method: the location is saved as it was.
        blank = not text
        refused = not blank and (
            len(text) > 40
            or "\x00" in text
            or not name
            or len(name) > 40
            or name in {m.name for m in methods}
        )
        before = fingerprint()
        url = reverse("admin:cashdrawer_location_change", args=[location.pk])
        response = self.world.clients[pages.ADMIN].post(url, data)
        about = f"{op} -> {response.status_code}"
        assert response.status_code == (200 if refused else 302), about
        if refused or blank:
            assert fingerprint() == before, about
        else:
            assert location.payment_methods.filter(name=name).exists(), about
            self.added_methods.append(op.name)
        return None

    # the start of an example

    def prepare(self) -> None:
        self.start = snapshot()
        scenario, manager = self.scenario, self.world.manager
        changes = {}
        if scenario.ceiling is not None:
            changes["max_amount"] = scenario.ceiling
        if scenario.timezone is not None:
            changes["timezone"] = scenario.timezone
        if changes:
            Location.objects.filter(pk=self.world.location.pk).update(**changes)
        opened = dict(scenario.open_at_start)
        if scenario.old_session and "blind" not in opened:
            services.open_session(
                register=self.register("blind"),
                opening_float="0.00",
                by=manager,
                at=self.clock.peek() - dt.timedelta(days=89),
            )
        for key, opening_float in scenario.open_at_start:
            services.open_session(
                register=self.register(key), opening_float=opening_float, by=manager
            )
        if scenario.near_limit is not None:
            self._near_limit(scenario.near_limit)

    def _near_limit(self, near: NearLimit) -> None:
        # Cash from sub-registers reaches only a main register.
        register = self.register("main" if near.figure == "sub_cash" else near.register)
        session = self.open_session(register) or services.open_session(
            register=register, opening_float="0.00", by=self.world.manager
        )
        top = FIGURE_LIMIT - near.slack
        figures = {
            "sales": {
                "cash_sales": top - session.opening_float,
                "total_sales": top,
                "cash_sales_count": services.MAX_COUNT - 1,
            },
            "refunds": {
                "cash_refunds": top,
                "total_refunds": top,
                "cash_refunds_count": services.MAX_COUNT - 1,
            },
            "out": {"adjustments_out": top},
            "sub_cash": {"sub_register_cash": top - session.opening_float},
        }[near.figure]
        TrackingSession.objects.filter(pk=session.pk).update(**figures)
        self.near_limit.add(session.pk)
        if register.is_main:  # its subs' sales and closes add to it as well
            self.near_limit.update(
                TrackingSession.objects.filter(main_session=session).values_list("pk", flat=True)
            )

    # every page afterwards

    def visit_every_page(self) -> None:
        first = not self.world.seen  # the first example: every object of the store
        objects = pages.objects_of(
            self.world.location,
            device_register=self.world.registers["blind"],
            touched=None if first else _touched(self.start, snapshot()),
        )
        for visit in pages.visits(objects, first=first):
            client = self.world.clients[visit.who]
            response = client.get(
                visit.url, follow=visit.follow, HTTP_ACCEPT_LANGUAGE=self.scenario.language
            )
            content = (
                b"".join(response.streaming_content) if response.streaming else response.content
            )
            about = f"{visit.who} GET {visit.url} -> {response.status_code}: {content[:1500]!r}"
            assert response.status_code == 200, about
            if visit.follow:
                assert response.request["PATH_INFO"] not in ("/login/", "/admin/login/"), about
            if response.get("Content-Type", "").startswith("text/csv"):
                _check_csv(content, visit.url, about)
            elif response.get("Content-Type", "").startswith("application/json"):
                json.loads(content)
            self.world.seen.add(visit.name)


def _touched(start: dict, now: dict) -> set[tuple[str, int]]:
    """(model name, pk) of every row stored or changed since `start`."""
    before = {(model, row["id"]): row for model, rows in start.items() for row in rows}
    return {
        (model, row["id"])
        for model, rows in now.items()
        for row in rows
        if before.get((model, row["id"])) != row
    }


def _as_parsed(value: Any) -> Any:
    """A value as the API's JSON parser hands it on: a bare number with a fraction is an
    exact Decimal, one with an exponent stays its text, an integer is an int."""
    if isinstance(value, Raw):
        if "e" in value.lower():
            return str(value)
        return D(value) if "." in value else int(value)
    return value


def _typed(text: str) -> str:
    with translation.override("en"):
        return normalize_amount(text.strip())


def _id(pk: int, how: str) -> Any:
    return {"int": pk, "str": str(pk), "float": Raw(f"{pk}.0"), "bool": True}[how]


def _json(body: dict) -> str:
    """The body as JSON, escaped to ASCII (a lone surrogate travels as \\udXXX), with Raw
    values as bare numbers."""
    raws: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(str(value))
            return f"__raw_{len(raws) - 1}__"
        if isinstance(value, dict):
            return {key: placeholder(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [placeholder(inner) for inner in value]
        return value

    text = json.dumps(placeholder(body), ensure_ascii=True)
    for index, raw in enumerate(raws):
        text = text.replace(f'"__raw_{index}__"', raw)
    return text


def _body(response: Any) -> Any:
    try:
        return response.json()
    except (ValueError, TypeError):
        return response.content[:300]


def _refused(response: Any, refusal: Refusal) -> bool:
    if response.status_code != refusal.status:
        return False
    if not refusal.code:
        return True
    body = _body(response)
    if not isinstance(body, dict):
        return False
    if refusal.status == 409:
        return body.get("code") == refusal.code
    return refusal.code in body


def _check_csv(content: bytes, url: str, about: str) -> None:
    """The file decodes and every row has the header's number of cells."""
    text = content.decode("utf-8-sig")
    delimiter = ";" if "dialect=excel-eu" in url else ","
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert rows, about
    assert {len(row) for row in rows} == {len(rows[0])}, about


# --- the tests -------------------------------------------------------------------------------


def test_every_named_url_is_visited_or_excluded_with_a_reason():
    """A new page, endpoint or admin model must be added to tests/pages_of_a_location.py
    (visited for a location's objects, or excluded with the reason it shows none)."""
    assert pages.unaccounted() == set()
    assert set(pages.ADMIN_MODELS) == pages.admin_models()
    assert all(reason.strip() for reason in pages.excluded_names().values())
    assert not set(pages.visited_names()) & set(pages.excluded_names())


def test_no_accepted_input_breaks_a_page(world):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenario=scenarios())
    def example(scenario: Scenario) -> None:
        cache.clear()
        clock = TickingClock()
        with rolled_back(), mock.patch("django.utils.timezone.now", clock):
            note(repr(scenario))
            run = Run(world, scenario, clock)
            run.prepare()
            for op in scenario.operations:
                run.run(op)
            run.visit_every_page()

    example()
    # Every page the list names was requested at least once (none of its visitors is dead).
    assert world.seen == set(pages.visited_names())
