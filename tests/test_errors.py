"""Refusals: domain errors with the codes API.md promises, and input that is never right.

Every refused call must leave the database exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from cashdrawer.money import AmountError, format_amount, parse_amount
from sessions_app import services
from sessions_app.exceptions import (
    CashTrackingOff,
    DomainError,
    InvalidInput,
    MainSessionNotOpen,
    SessionAlreadyOpen,
    SessionClosed,
    SessionNotClosed,
    SubSessionsOpen,
)
from sessions_app.models import TrackingSession


def _sale(register, amount="1.00", **extra):
    return services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount=amount, by=None, **extra
    )


# --- domain errors (409) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SessionAlreadyOpen, "session_already_open"),
        (SessionClosed, "session_closed"),
        (MainSessionNotOpen, "main_session_not_open"),
        (SubSessionsOpen, "sub_sessions_open"),
        (CashTrackingOff, "cash_tracking_off"),
        (SessionNotClosed, "session_not_closed"),
    ],
)
def test_domain_errors_carry_the_codes_of_the_api_contract(error, code):
    raised = error()
    assert isinstance(raised, DomainError)
    assert raised.code == code
    assert raised.status == 409
    assert raised.message  # a human message even without one given


def test_invalid_input_names_its_field_and_answers_400():
    error = InvalidInput("amount", "Enter an amount.")
    assert error.status == 400
    assert error.as_dict() == {"amount": ["Enter an amount."]}


def test_a_second_open_session_on_one_register_is_refused(register, manager, db_rows):
    services.open_session(register=register, opening_float="150.00", by=manager)
    before = db_rows()

    with pytest.raises(SessionAlreadyOpen) as refused:
        services.open_session(register=register, opening_float="150.00", by=manager)

    assert refused.value.code == "session_already_open"
    assert "R" in refused.value.message
    assert db_rows() == before


def test_an_adjustment_on_a_closed_session_is_refused(register, manager, db_rows):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    before = db_rows()

    with pytest.raises(SessionClosed) as refused:
        services.adjust_float(
            session=session, direction="out", amount="5.00", reason="safe", by=manager
        )

    assert refused.value.code == "session_closed"
    assert db_rows() == before


def test_closing_a_closed_session_is_refused(register, manager, db_rows, session_figures):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    before, figures = db_rows(), session_figures(session)

    # Even through a stale object that still thinks it is open.
    with pytest.raises(SessionClosed):
        services.close_session(session=session, counted="149.00", by=manager)

    assert db_rows() == before
    assert session_figures(session) == figures


def test_with_cash_tracking_off_no_session_opens_but_sales_are_recorded(
    location, make_register, manager, db_rows
):
    untracked = make_register(location, count_method="total", cash_tracking=False)
    before = db_rows()

    with pytest.raises(CashTrackingOff) as refused:
        services.open_session(register=untracked, opening_float="0.00", by=manager)
    assert refused.value.code == "cash_tracking_off"
    assert db_rows() == before

    recorded = _sale(untracked, "12.00")
    assert recorded.created
    assert recorded.transaction.session is None
    assert recorded.transaction.late is False
    assert not TrackingSession.objects.filter(register=untracked).exists()


# --- money: exact amounts in the currency, refused rather than rounded ------------------

EUR_REFUSED = [
    "1.005",
    "0.001",
    # More digits than Decimal's 28-digit context: must not be rounded to 1.00.
    "1.0000000000000000000000000001",
    "-1.00",
    "-0.01",
    1.5,  # a float cannot carry an exact amount
    0.1,
    True,
    "abc",
    "",
    "  ",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1,50",
    "1000000000000.00",  # beyond the stored 12 digits before the point
    None,
    [],
]


@pytest.mark.parametrize("amount", EUR_REFUSED, ids=repr)
def test_a_sale_with_an_amount_that_is_not_exact_eur_is_refused(register, amount, db_rows):
    before = db_rows()

    with pytest.raises(InvalidInput) as refused:
        _sale(register, amount)

    assert refused.value.field == "amount"
    assert db_rows() == before


@pytest.mark.parametrize(
    ("amount", "stored"),
    [
        ("45.50", D("45.50")),
        ("45.5", D("45.50")),
        (" 45.50 ", D("45.50")),
        ("45.500", D("45.50")),  # trailing zeros add no precision
        (45, D("45.00")),
        (D("45.50"), D("45.50")),
        ("0", D("0.00")),
    ],
    ids=repr,
)
def test_exact_eur_amounts_are_accepted(register, amount, stored):
    assert _sale(register, amount).transaction.amount == stored


def test_yen_amounts_have_no_decimals(jpy_location, make_register, db_rows):
    till = make_register(jpy_location, count_method="total")
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        _sale(till, "1.5")
    assert "no decimals" in refused.value.message
    assert db_rows() == before

    sale = _sale(till, "1500").transaction
    assert sale.amount == D("1500")
    assert format_amount(sale.amount, "JPY") == "1500"
    assert TrackingSession.objects.get(pk=sale.session_id).current_expected_cash == D("1500")


def test_parse_amount_never_hands_out_a_negative_zero():
    amount = parse_amount("-0.00", currency="EUR")
    assert format_amount(amount, "EUR") == "0.00"
    with pytest.raises(AmountError):
        parse_amount("12.3", currency="JPY")


def test_negative_amounts_are_refused_everywhere_a_direction_exists(
    register, manager, db_rows, session_figures
):
    before = db_rows()
    with pytest.raises(InvalidInput):
        services.open_session(register=register, opening_float="-1.00", by=manager)
    assert db_rows() == before

    session = services.open_session(register=register, opening_float="10.00", by=manager)
    before, figures = db_rows(), session_figures(session)
    with pytest.raises(InvalidInput):
        services.adjust_float(
            session=session, direction="in", amount="-1.00", reason="x", by=manager
        )
    with pytest.raises(InvalidInput):
        services.adjust_float(session=session, direction="in", amount="0", reason="x", by=manager)
    with pytest.raises(InvalidInput):
        services.record_transaction(
            register=register, kind="refund", payment_method="cash", amount="-5.00", by=None
        )
    with pytest.raises(InvalidInput):
        services.close_session(session=session, counted="-1.00", by=manager)
    with pytest.raises(InvalidInput):
        services.close_session(session=session, counted="10.00", retained_float="-1.00", by=manager)
    assert db_rows() == before
    assert session_figures(session) == figures


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"kind": "gift", "payment_method": "cash"}, "kind"),
        ({"kind": "sale", "payment_method": "  "}, "payment_method"),
        ({"kind": "sale", "payment_method": "x" * 41}, "payment_method"),
        ({"kind": "sale", "payment_method": "cash", "external_id": "r" * 101}, "external_id"),
    ],
)
def test_malformed_transactions_are_refused(register, call, field, db_rows):
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        services.record_transaction(register=register, amount="1.00", by=None, **call)
    assert refused.value.field == field
    assert db_rows() == before


def test_a_naive_time_is_refused_because_its_offset_is_unknown(register, db_rows):
    import datetime as dt

    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        _sale(register, occurred_at=dt.datetime(2026, 3, 1, 12, 0))
    assert refused.value.field == "occurred_at"
    assert db_rows() == before


# --- denomination counts ----------------------------------------------------------------

BAD_COUNTS = [
    pytest.param([("0.03", 1)], id="not a EUR denomination"),
    pytest.param([("1000", 1)], id="a yen note is not a EUR note"),
    pytest.param([("0.005", 1)], id="more decimals than EUR"),
    pytest.param([("5", 1), ("5.00", 2)], id="counted twice"),
    pytest.param([("5", -1)], id="negative quantity"),
    pytest.param([("5", 1.5)], id="fractional quantity"),
    pytest.param([("5", "3")], id="quantity as text"),
    pytest.param([("5", True)], id="quantity as a boolean"),
    pytest.param([("5", None)], id="no quantity"),
    pytest.param([("5", 1_000_001)], id="absurd quantity"),
    pytest.param([{"value": "5"}], id="line without quantity"),
    pytest.param([("5",)], id="line of one item"),
    pytest.param("5x3", id="not a list"),
    pytest.param([(5.0, 1)], id="float value"),
]


@pytest.mark.parametrize("counts", BAD_COUNTS)
def test_an_opening_count_that_is_not_a_count_of_the_currency_is_refused(
    counted_register, manager, counts, db_rows
):
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        services.open_session(register=counted_register, opening_counts=counts, by=manager)
    assert refused.value.field == "opening_counts"
    assert db_rows() == before


@pytest.mark.parametrize("counts", BAD_COUNTS)
def test_a_closing_count_that_is_not_a_count_of_the_currency_is_refused(
    counted_register, manager, counts, db_rows, session_figures
):
    session = services.open_session(register=counted_register, opening_float="5.00", by=manager)
    before, figures = db_rows(), session_figures(session)
    with pytest.raises(InvalidInput) as refused:
        services.close_session(session=session, counts=counts, by=manager)
    assert refused.value.field == "counts"
    assert db_rows() == before
    assert session_figures(session) == figures


def test_a_yen_count_uses_yen_denominations(jpy_location, make_register, manager, db_rows):
    till = make_register(jpy_location)
    before = db_rows()
    with pytest.raises(InvalidInput):
        services.open_session(register=till, opening_counts=[("0.50", 2)], by=manager)
    with pytest.raises(InvalidInput):
        services.open_session(register=till, opening_counts=[("20", 1)], by=manager)
    assert db_rows() == before

    session = services.open_session(
        register=till, opening_counts=[("10000", 1), ("1000", 2), ("500", 1)], by=manager
    )
    assert session.opening_float == D("12500")


def test_a_session_cannot_be_opened_before_the_previous_one_closed(register, manager, db_rows):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        services.open_session(
            register=register,
            opening_float="150.00",
            by=manager,
            at=timezone.now() - dt.timedelta(hours=1),
        )
    assert refused.value.field == "opened_at"
    assert db_rows() == before


def test_a_session_cannot_close_before_a_sale_it_holds(register, manager, db_rows):
    start = timezone.now() - dt.timedelta(hours=3)
    session = services.open_session(register=register, opening_float="150.00", by=manager, at=start)
    services.record_transaction(
        register=register,
        kind="sale",
        payment_method="cash",
        amount="5.00",
        occurred_at=start + dt.timedelta(hours=2),
        received_at=start + dt.timedelta(hours=2),
    )
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        services.close_session(
            session=session, counted="155.00", by=manager, at=start + dt.timedelta(hours=1)
        )
    assert refused.value.field == "closed_at"
    assert db_rows() == before


def test_a_correction_names_who_made_it(register, manager, db_rows):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    before = db_rows()
    with pytest.raises(InvalidInput):
        services.add_correction(session=session, amount="1.00", reason="found a coin", by=None)
    assert db_rows() == before
