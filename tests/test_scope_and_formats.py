"""The page scope (location and range in the URL) and money and time as people read them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.utils import translation

from cashdrawer.forms import normalize_amount
from cashdrawer.scope import resolve_period, scope_from_request
from cashdrawer.templatetags.cashdrawer import format_money, when

TODAY = dt.date(2026, 11, 19)  # a Thursday


@pytest.mark.parametrize(
    ("key", "first", "last"),
    [
        ("today", dt.date(2026, 11, 19), dt.date(2026, 11, 19)),
        ("yesterday", dt.date(2026, 11, 18), dt.date(2026, 11, 18)),
        ("this_week", dt.date(2026, 11, 16), dt.date(2026, 11, 19)),
        ("last_7_days", dt.date(2026, 11, 13), dt.date(2026, 11, 19)),
        ("this_month", dt.date(2026, 11, 1), dt.date(2026, 11, 19)),
        ("last_month", dt.date(2026, 10, 1), dt.date(2026, 10, 31)),
    ],
)
def test_range_presets_are_local_days(key, first, last):
    period = resolve_period({"range": key}, TODAY)
    assert (period.key, period.first, period.last, period.error) == (key, first, last, None)


def test_last_month_in_january_is_december_of_the_year_before():
    period = resolve_period({"range": "last_month"}, dt.date(2027, 1, 5))
    assert (period.first, period.last) == (dt.date(2026, 12, 1), dt.date(2026, 12, 31))


def test_a_custom_range_is_taken_as_given():
    period = resolve_period({"range": "custom", "from": "2026-01-01", "to": "2026-03-31"}, TODAY)
    assert (period.first, period.last, period.days) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
        90,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"range": "custom", "from": "2026-03-31", "to": "2026-01-01"},
        {"range": "custom", "from": "yesterday", "to": "2026-01-01"},
        {"range": "custom", "from": "2020-01-01", "to": "2026-01-01"},
        {"range": "custom"},
    ],
)
def test_a_broken_custom_range_falls_back_to_this_month_with_a_message(params):
    period = resolve_period(params, TODAY)
    assert (period.key, period.first, period.last) == (
        "this_month",
        dt.date(2026, 11, 1),
        TODAY,
    )
    assert period.error


def test_an_unknown_range_key_is_this_month():
    assert resolve_period({"range": "forever"}, TODAY).key == "this_month"


def _request(user, **params):
    request = RequestFactory().get("/overview/", params)
    request.user = user
    return request


def test_a_location_the_user_does_not_belong_to_is_404(manager, other_location):
    with pytest.raises(Http404):
        scope_from_request(_request(manager, location=other_location.pk))
    with pytest.raises(Http404):
        scope_from_request(_request(manager, location="not-a-number"))


def test_one_location_is_chosen_by_itself_and_several_offer_all(
    manager, location, other_location, make_user
):
    scope = scope_from_request(_request(manager))
    assert (scope.location, scope.allow_all) == (location, False)

    both = make_user("both", location=location, role="accountant")
    both.memberships.create(location=other_location, role="accountant")
    scope = scope_from_request(_request(both))
    assert scope.location is None and scope.allow_all
    assert scope.selected == sorted([location, other_location], key=lambda loc: loc.name)
    assert scope_from_request(_request(both), allow_all=False).location == location
    chosen = scope_from_request(_request(both, location=other_location.pk, range="yesterday"))
    assert chosen.location == other_location
    assert chosen.query() == f"location={other_location.pk}&range=yesterday"


def test_roles_limit_the_locations_of_a_page(cashier, location):
    from cashdrawer.selectors import REPORT_ROLES

    with pytest.raises(Http404):
        scope_from_request(_request(cashier), roles=REPORT_ROLES)
    assert scope_from_request(_request(cashier)).location == location


@pytest.mark.parametrize(
    ("language", "amount", "currency", "text"),
    [
        ("de", "1002.50", "EUR", "1.002,50\u00a0€"),
        ("nl", "1002.50", "EUR", "€\u00a01.002,50"),
        ("en", "1002.50", "EUR", "€1,002.50"),
        ("en", "-5.00", "EUR", "−€5.00"),
        ("de", "-5.00", "EUR", "−5,00\u00a0€"),
        ("en", "1500", "JPY", "¥1,500"),
        ("de", "12.00", "CHF", "12,00\u00a0CHF"),
    ],
)
def test_money_follows_the_language_and_the_currency(language, amount, currency, text):
    with translation.override(language):
        assert format_money(Decimal(amount), currency) == text


def test_a_missing_amount_is_a_dash_and_a_surplus_can_carry_its_sign():
    assert format_money(None, "EUR") == "—"
    with translation.override("en"):
        assert format_money(Decimal("2.00"), "EUR", sign=True) == "+€2.00"


@pytest.mark.parametrize(
    ("language", "typed", "plain"),
    [
        ("de", "12,50", "12.50"),
        ("de", "1.002,50", "1002.50"),
        ("de", "1.002", "1002"),
        ("de", "12.5", "12.5"),
        # Inner spaces stay, for the service to refuse as "not a number".
        ("nl", "1 002,50", "1 002.50"),
        ("en", "1,002.50", "1002.50"),
        ("en", " 12.345 ", "12.345"),
        ("en", "-1,000.00", "-1000.00"),
        # A decimal comma in English is left for the service to refuse, never read as 1250.
        ("en", "12,50", "12,50"),
        ("en", "12,5", "12,5"),
    ],
)
def test_typed_amounts_follow_the_language(language, typed, plain):
    with translation.override(language):
        assert normalize_amount(typed) == plain


def test_times_show_in_the_locations_time_zone(location):
    moment = dt.datetime(2026, 11, 19, 23, 30, tzinfo=dt.UTC)
    with translation.override("de"):
        assert when(moment, location) == "20.11.2026 00:30"


@pytest.mark.parametrize(
    ("first", "last"), [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-02")]
)
def test_dates_at_the_ends_of_the_calendar_are_refused_not_overflowed(first, last):
    period = resolve_period({"range": "custom", "from": first, "to": last}, TODAY)
    assert period.key == "this_month"
    assert "between 1900-01-01 and 2999-12-31" in period.error
