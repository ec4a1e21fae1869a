"""DOMAIN.md session rules 1-7 and API.md's late rule, one register at a time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from sessions_app import selectors, services
from sessions_app.exceptions import (
    InvalidInput,
    MainSessionNotOpen,
    SessionClosed,
    SessionNotClosed,
)
from sessions_app.models import CountLine, TrackingSession, Transaction


def _record(register, amount, *, kind="sale", method="cash", by=None, **extra):
    return services.record_transaction(
        register=register, kind=kind, payment_method=method, amount=amount, by=by, **extra
    )


def _sale(register, amount, **extra) -> Transaction:
    return _record(register, amount, **extra).transaction


def _closed_session(register, manager, *, opening="150.00", counted="150.00", retained="150.00"):
    session = services.open_session(register=register, opening_float=opening, by=manager)
    return services.close_session(
        session=session, counted=counted, retained_float=retained, by=manager
    )


def _fresh(session) -> TrackingSession:
    return TrackingSession.objects.get(pk=session.pk)


# --- rule 1: opening by hand ------------------------------------------------------------


def test_opening_by_hand_with_a_total_stores_the_float_the_note_and_who_opened(register, manager):
    session = _fresh(
        services.open_session(
            register=register, opening_float="150.00", note="Morning shift", by=manager
        )
    )

    assert session.is_open
    assert session.opening_float == D("150.00")
    assert session.opening_note == "Morning shift"
    assert session.opened_by == manager
    assert session.opened_automatically is False
    assert session.opened_at is not None
    assert not session.counts.exists()  # a total is not a count


def test_opening_by_hand_with_a_denomination_count_stores_the_lines_and_their_sum(
    counted_register, manager
):
    session = services.open_session(
        register=counted_register,
        opening_counts=[
            {"value": "50.00", "quantity": 2},
            {"value": "20", "quantity": 2},
            ("0.50", 4),
            {"value": "0.10", "quantity": 0},  # an empty compartment stores no line
        ],
        by=manager,
    )

    assert _fresh(session).opening_float == D("142.00")
    lines = list(session.counts.values_list("stage", "value", "quantity").order_by("-value"))
    assert lines == [
        ("opening", D("50.00"), 2),
        ("opening", D("20.00"), 2),
        ("opening", D("0.50"), 4),
    ]


def test_opening_with_both_a_total_and_a_count_is_refused(register, manager, db_rows):
    before = db_rows()
    with pytest.raises(InvalidInput) as refused:
        services.open_session(
            register=register, opening_float="100.00", opening_counts=[("50", 2)], by=manager
        )
    assert refused.value.field == "opening_float"
    assert db_rows() == before


def test_opening_with_neither_a_total_nor_a_count_is_refused(register, manager, db_rows):
    before = db_rows()
    with pytest.raises(InvalidInput):
        services.open_session(register=register, by=manager)
    assert db_rows() == before


# --- rule 2: opening automatically -------------------------------------------------------


def test_the_first_sale_ever_opens_a_session_with_a_zero_float(register):
    # The register has a default float of 150.00, but nobody counted one in: 0.00.
    sale = _sale(register, "12.00")
    session = _fresh(sale.session)

    assert session.opened_automatically is True
    assert session.opened_by is None
    assert session.opening_float == D("0.00")
    assert session.previous_closing_float is None
    assert session.start_discrepancy == D("0.00")
    assert session.current_expected_cash == D("12.00")


def test_an_automatic_opening_takes_the_previous_retained_float(register, manager):
    closed = _closed_session(register, manager, counted="230.00", retained="80.00")

    sale = _sale(register, "5.00", by=manager)
    session = _fresh(sale.session)

    assert session.pk != closed.pk
    assert session.opened_automatically is True
    assert session.opened_by == manager
    assert session.opening_float == D("80.00")
    assert session.previous_closing_float == D("80.00")
    assert session.start_discrepancy == D("0.00")
    assert session.current_expected_cash == D("85.00")


def test_a_sale_on_a_sub_register_with_its_main_closed_is_refused_and_stores_nothing(
    sub_a, main_register, manager, db_rows
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    services.close_session(session=main, counts=[], by=manager)
    before = db_rows()

    with pytest.raises(MainSessionNotOpen):
        _record(sub_a, "9.99", external_id="receipt-1")

    assert db_rows() == before
    assert not Transaction.objects.filter(register=sub_a).exists()
    assert not TrackingSession.objects.filter(register=sub_a).exists()
    # Nothing stored means the terminal can send it again once the main is open.
    services.open_session(register=main_register, opening_float="0.00", by=manager)
    assert _record(sub_a, "9.99", external_id="receipt-1").created


def test_a_sale_on_a_sub_register_opens_a_session_that_belongs_to_the_main_session(
    sub_a, main_register, manager
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)

    sale = _sale(sub_a, "4.20")

    sub_session = _fresh(sale.session)
    assert sub_session.register == sub_a
    assert sub_session.opened_automatically is True
    assert sub_session.main_session_id == main.pk
    assert sub_session.opening_float == D("0.00")


# --- rule 3: start discrepancy -----------------------------------------------------------


def test_a_first_session_has_no_start_discrepancy_even_with_a_float(register, manager):
    session = _fresh(services.open_session(register=register, opening_float="75.00", by=manager))

    assert session.previous_closing_float is None
    assert session.start_discrepancy == D("0.00")
    assert session.total_discrepancy == D("0.00")


@pytest.mark.parametrize(
    ("opening", "start_discrepancy"),
    [("160.00", D("10.00")), ("140.00", D("-10.00")), ("150.00", D("0.00"))],
)
def test_start_discrepancy_is_the_opening_float_minus_the_previous_closing_float(
    register, manager, opening, start_discrepancy
):
    _closed_session(register, manager, counted="300.00", retained="150.00")

    session = _fresh(services.open_session(register=register, opening_float=opening, by=manager))

    assert session.previous_closing_float == D("150.00")
    assert session.start_discrepancy == start_discrepancy
    # While open, the total discrepancy is the start part alone.
    assert session.total_discrepancy == start_discrepancy


def test_the_previous_closing_float_is_the_last_closed_sessions_retained_float(register, manager):
    _closed_session(register, manager, counted="300.00", retained="150.00")
    _closed_session(register, manager, opening="150.00", counted="250.00", retained="120.00")

    session = _fresh(services.open_session(register=register, opening_float="100.00", by=manager))

    assert session.previous_closing_float == D("120.00")
    assert session.start_discrepancy == D("-20.00")


# --- rules 4 and 5: cash during the session, expected cash ------------------------------


def test_only_cash_moves_cash_and_expected_cash_adds_everything_up(
    register, manager, takes_vouchers
):
    session = services.open_session(register=register, opening_float="100.00", by=manager)
    _sale(register, "45.50")
    _sale(register, "20.00")
    _record(register, "5.50", kind="refund")
    _sale(register, "80.00", method="card")
    _record(register, "10.00", kind="refund", method="card")
    _sale(register, "25.00", method="voucher")
    services.adjust_float(session=session, direction="in", amount="2.00", reason="own", by=manager)
    services.adjust_float(
        session=session, direction="out", amount="10.00", reason="safe", by=manager
    )
    services.adjust_float(
        session=session, direction="out", amount="1.00", reason="bank", by=manager
    )

    session = _fresh(session)
    assert session.cash_sales == D("65.50")
    assert session.cash_refunds == D("5.50")
    assert session.net_cash == D("60.00")
    assert (session.adjustments_in, session.adjustments_out) == (D("2.00"), D("11.00"))
    # 100.00 + (65.50 - 5.50) + (2.00 - 11.00)
    assert session.current_expected_cash == D("151.00")
    assert (session.cash_sales_count, session.cash_refunds_count) == (2, 1)


def test_adjustments_record_who_when_and_why(register, manager, cashier):
    session = services.open_session(register=register, opening_float="100.00", by=manager)
    adjustment = services.adjust_float(
        session=session,
        direction="in",
        amount="2.00",
        reason="own money for change",
        by=cashier,
    )
    adjustment.refresh_from_db()
    assert adjustment.session_id == session.pk
    assert adjustment.created_by == cashier
    assert adjustment.created_at >= _fresh(session).opened_at
    assert adjustment.reason == "own money for change"
    assert adjustment.signed_amount == D("2.00")


def test_payment_methods_are_stored_in_lower_case_so_cash_is_always_cash(
    register, manager, takes_vouchers
):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    cash = _sale(register, "3.00", method="CASH")
    voucher = _sale(register, "4.00", method=" Voucher ")

    assert (cash.payment_method, voucher.payment_method) == ("cash", "voucher")
    session = _fresh(session)
    assert session.cash_sales == D("3.00")
    assert session.current_expected_cash == D("3.00")
    assert selectors.sales_by_method(session) == {"cash": D("3.00"), "voucher": D("4.00")}


# --- rule 6: closing --------------------------------------------------------------------


def test_closing_with_a_counted_total_stores_every_figure(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    _sale(register, "52.00")

    closed = _fresh(
        services.close_session(
            session=session, counted="199.50", retained_float="150.00", note="ok", by=manager
        )
    )

    assert closed.status == TrackingSession.Status.CLOSED
    assert closed.closed_by == manager
    assert closed.closed_at >= closed.opened_at
    assert closed.closing_note == "ok"
    assert closed.expected_cash == D("202.00")
    assert closed.counted_cash == D("199.50")
    assert closed.end_discrepancy == D("-2.50")
    assert closed.retained_float == D("150.00")
    assert closed.cash_removed == D("49.50")
    assert closed.total_discrepancy == D("-2.50")
    assert not closed.counts.exists()


def test_closing_with_a_denomination_count_stores_the_lines_and_counts_their_sum(
    counted_register, manager
):
    session = services.open_session(register=counted_register, opening_float="100.00", by=manager)
    _sale(counted_register, "33.30")

    closed = _fresh(
        services.close_session(
            session=session,
            counts=[{"value": "100", "quantity": 1}, ("20", 1), ("10", 1), ("2", 1), ("0.20", 1)],
            by=manager,
        )
    )

    assert closed.counted_cash == D("132.20")
    assert closed.expected_cash == D("133.30")
    assert closed.end_discrepancy == D("-1.10")
    assert closed.retained_float == D("100.00")  # the register's default float
    assert closed.cash_removed == D("32.20")
    closing = closed.counts.filter(stage=CountLine.Stage.CLOSING)
    assert sorted(closing.values_list("value", "quantity")) == [
        (D("0.20"), 1),
        (D("2.00"), 1),
        (D("10.00"), 1),
        (D("20.00"), 1),
        (D("100.00"), 1),
    ]


def test_a_session_closed_without_a_count_is_not_counted_rather_than_zero(register, manager):
    _closed_session(register, manager, counted="300.00", retained="150.00")
    # Opened 5.00 short: the total discrepancy is that start part alone.
    session = services.open_session(register=register, opening_float="145.00", by=manager)
    _sale(register, "60.00")

    closed = _fresh(services.close_session(session=session, retained_float="100.00", by=manager))

    assert closed.counted_cash is None
    assert closed.end_discrepancy is None  # not counted, which is not "exactly right"
    assert closed.expected_cash == D("205.00")
    assert closed.cash_removed == D("105.00")  # expected - retained
    assert closed.start_discrepancy == D("-5.00")
    assert closed.total_discrepancy == D("-5.00")
    assert not closed.is_counted


def test_the_retained_float_defaults_to_the_registers_default_float(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    _sale(register, "60.00")

    closed = services.close_session(session=session, counted="210.00", by=manager)

    assert closed.retained_float == D("150.00")
    assert closed.cash_removed == D("60.00")


def test_the_default_retained_float_is_capped_at_the_counted_cash(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.adjust_float(
        session=session, direction="out", amount="60.00", reason="safe", by=manager
    )

    closed = services.close_session(session=session, counted="90.00", by=manager)

    assert closed.retained_float == D("90.00")
    assert closed.cash_removed == D("0.00")


def test_the_default_retained_float_is_capped_at_the_expected_cash_when_not_counted(
    register, manager
):
    session = services.open_session(register=register, opening_float="100.00", by=manager)
    _sale(register, "20.00")

    closed = services.close_session(session=session, by=manager)

    assert closed.expected_cash == D("120.00")
    assert closed.retained_float == D("120.00")
    assert closed.cash_removed == D("0.00")


def test_a_register_without_a_default_float_retains_nothing_by_default(
    location, make_register, manager
):
    bare = make_register(location, count_method="total")
    session = services.open_session(register=bare, opening_float="10.00", by=manager)

    closed = services.close_session(session=session, counted="10.00", by=manager)

    assert closed.retained_float == D("0.00")
    assert closed.cash_removed == D("10.00")


def test_a_retained_float_above_the_counted_cash_is_refused_and_the_session_stays_open(
    register, manager, db_rows, session_figures
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    _sale(register, "10.00")
    before, rows = session_figures(session), db_rows()

    with pytest.raises(InvalidInput) as refused:
        services.close_session(
            session=session, counted="100.00", retained_float="100.01", by=manager
        )

    assert refused.value.field == "retained_float"
    assert "100.00" in refused.value.message  # the counted cash: the cashier just typed it
    assert session_figures(session) == before
    assert _fresh(session).is_open
    assert db_rows() == rows


def test_a_retained_float_above_the_expected_cash_is_refused_when_not_counted(
    register, manager, session_figures
):
    session = services.open_session(register=register, opening_float="50.00", by=manager)
    before = session_figures(session)

    with pytest.raises(InvalidInput) as refused:
        services.close_session(session=session, retained_float="50.01", by=manager)

    assert refused.value.field == "retained_float"
    # The refusal names no amount: on a blind-close register it would tell the cashier
    # the expected cash before the count.
    assert "50.00" not in refused.value.message
    assert session_figures(session) == before


def test_a_register_counting_by_denominations_refuses_a_plain_total(
    counted_register, manager, session_figures, db_rows
):
    session = services.open_session(register=counted_register, opening_float="100.00", by=manager)
    before, rows = session_figures(session), db_rows()

    with pytest.raises(InvalidInput) as refused:
        services.close_session(session=session, counted="100.00", by=manager)

    assert refused.value.field == "counted_cash"
    assert session_figures(session) == before
    assert db_rows() == rows


def test_a_closed_session_never_changes_and_a_later_sale_goes_to_a_new_session(
    register, manager, session_figures
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    _sale(register, "52.00")
    closed = services.close_session(
        session=session, counted="200.00", retained_float="150.00", by=manager
    )
    final = session_figures(closed)

    with pytest.raises(SessionClosed):
        services.adjust_float(
            session=closed, direction="in", amount="1.00", reason="late", by=manager
        )
    with pytest.raises(SessionClosed):
        services.close_session(session=closed, counted="202.00", by=manager)
    later = _sale(register, "7.00")
    correction = services.add_correction(
        session=closed, amount="2.00", reason="2.00 found under the drawer", by=manager
    )

    assert later.session_id != closed.pk
    assert session_figures(closed) == final
    correction.refresh_from_db()
    assert correction.session_id == closed.pk
    assert correction.amount == D("2.00")
    assert correction.created_by == manager
    assert correction.reason == "2.00 found under the drawer"


def test_a_correction_of_an_open_session_is_refused(register, manager, db_rows):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    before = db_rows()

    with pytest.raises(SessionNotClosed) as refused:
        services.add_correction(session=session, amount="-1.00", reason="typo", by=manager)

    assert refused.value.code == "session_not_closed"
    assert db_rows() == before


def test_a_correction_may_be_negative_but_not_zero(register, manager):
    closed = _closed_session(register, manager)

    assert services.add_correction(
        session=closed, amount="-2.00", reason="counted twice", by=manager
    ).amount == D("-2.00")
    with pytest.raises(InvalidInput):
        services.add_correction(session=closed, amount="0.00", reason="nothing", by=manager)


# --- rule 7: what a session shows --------------------------------------------------------


def test_a_session_shows_total_sales_of_all_methods_with_refunds_on_their_own(
    register, manager, cashier, takes_vouchers
):
    session = services.open_session(register=register, opening_float="150.00", by=cashier)
    _sale(register, "45.50")
    _sale(register, "20.00")
    _sale(register, "80.00", method="card")
    _sale(register, "15.00", method="voucher")
    _record(register, "5.50", kind="refund")
    _record(register, "8.00", kind="refund", method="card")
    closed = _fresh(services.close_session(session=session, counted="210.00", by=manager))

    # Refunds are not deducted from total sales.
    assert closed.total_sales == D("160.50")
    assert closed.total_refunds == D("13.50")
    assert selectors.sales_by_method(closed) == {
        "card": D("80.00"),
        "cash": D("65.50"),
        "voucher": D("15.00"),
    }
    assert selectors.refunds_by_method(closed) == {"card": D("8.00"), "cash": D("5.50")}
    assert closed.opened_by == cashier
    assert closed.closed_by == manager
    assert closed.expected_cash == D("210.00")


# --- API.md: late transactions and external ids ------------------------------------------


def test_a_sale_that_occurred_before_a_close_is_kept_late_on_a_new_session(
    register, manager, session_figures
):
    closed = _closed_session(register, manager)
    final = session_figures(closed)

    sale = _sale(register, "9.00", occurred_at=closed.closed_at - dt.timedelta(minutes=5))

    assert sale.late is True
    assert sale.session_id != closed.pk
    current = _fresh(sale.session)
    assert current.opened_automatically
    assert current.current_expected_cash == D("159.00")
    # The new session does not reach back into the closed one.
    assert current.opened_at >= closed.closed_at
    assert session_figures(closed) == final


def test_a_late_sale_is_kept_on_the_registers_current_open_session(register, manager):
    closed = _closed_session(register, manager)
    current = services.open_session(register=register, opening_float="150.00", by=manager)

    sale = _sale(register, "3.00", occurred_at=closed.closed_at - dt.timedelta(hours=1))

    assert sale.late is True
    assert sale.session_id == current.pk


def test_a_sale_that_occurred_after_the_last_close_is_on_time(register, manager):
    closed = _closed_session(register, manager)

    sale = _sale(register, "3.00", occurred_at=closed.closed_at + dt.timedelta(seconds=1))

    assert sale.late is False
    assert sale.occurred_at == closed.closed_at + dt.timedelta(seconds=1)


def test_a_repeated_external_id_returns_the_first_transaction_and_changes_nothing(
    register, manager, db_rows, session_figures
):
    first = _record(register, "45.50", external_id="receipt-123")
    assert first.created
    before, rows = session_figures(first.transaction.session), db_rows()

    again = _record(register, "99.00", method="card", external_id="receipt-123")

    assert again.created is False
    assert again.transaction.pk == first.transaction.pk
    assert again.transaction.amount == D("45.50")
    assert session_figures(first.transaction.session) == before
    assert db_rows() == rows


def test_a_repeat_after_the_session_closed_opens_no_new_session(register, manager, db_rows):
    first = _record(register, "45.50", external_id="receipt-7")
    services.close_session(session=first.transaction.session, counted="45.50", by=manager)
    rows = db_rows()

    again = _record(register, "45.50", external_id="receipt-7")

    assert again.created is False
    assert again.transaction.pk == first.transaction.pk
    assert db_rows() == rows
    assert not TrackingSession.objects.filter(register=register, status="open").exists()


def test_the_same_external_id_on_another_register_is_a_new_transaction(
    register, location, make_register
):
    other = make_register(location, count_method="total")
    first = _record(register, "1.00", external_id="receipt-1")

    second = _record(other, "1.00", external_id="receipt-1")

    assert second.created
    assert second.transaction.pk != first.transaction.pk
    assert second.transaction.register == other
