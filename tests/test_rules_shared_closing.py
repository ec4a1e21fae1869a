"""DOMAIN.md rules 8-11: a main register with sub-registers, closed together."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sessions_app import services
from sessions_app.exceptions import (
    InvalidInput,
    MainSessionNotOpen,
    SubSessionsOpen,
)
from sessions_app.models import ClosingTransfer, CountLine, TrackingSession


def _record(register, amount, *, kind="sale", method="cash"):
    return services.record_transaction(
        register=register, kind=kind, payment_method=method, amount=amount, by=None
    ).transaction


def _fresh(session) -> TrackingSession:
    return TrackingSession.objects.get(pk=session.pk)


@pytest.fixture
def main_session(main_register, manager) -> TrackingSession:
    return services.open_session(register=main_register, opening_float="100.00", by=manager)


# --- rule 8: a sub opens only inside its main's session ---------------------------------


def test_a_sub_register_cannot_open_before_its_main_register(sub_a, manager, db_rows):
    before = db_rows()

    with pytest.raises(MainSessionNotOpen) as refused:
        services.open_session(register=sub_a, opening_float="0.00", by=manager)

    assert refused.value.code == "main_session_not_open"
    assert "open the main register's session first" in refused.value.message.lower()
    assert "Main C" in refused.value.message
    assert db_rows() == before


def test_a_sub_registers_session_belongs_to_the_open_main_session(
    main_session, sub_a, sub_b, manager
):
    a = services.open_session(register=sub_a, opening_float="20.00", by=manager)
    b = services.open_session(register=sub_b, opening_float="0.00", by=manager)

    assert _fresh(a).main_session_id == main_session.pk
    assert _fresh(b).main_session_id == main_session.pk
    assert set(main_session.sub_sessions.all()) == {a, b}
    # A main or standalone session belongs to no other session.
    assert _fresh(main_session).main_session_id is None


def test_a_sub_session_opened_after_the_main_reopened_belongs_to_the_new_main_session(
    main_register, main_session, sub_a, manager
):
    services.close_session(session=main_session, counts=[("100", 1)], by=manager)
    new_main = services.open_session(register=main_register, opening_float="0.00", by=manager)

    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager)

    assert sub.main_session_id == new_main.pk


# --- rule 9: a sub is not counted; its cash moves to the main -----------------------------


@pytest.mark.parametrize(
    "count",
    [{"counted": "10.00"}, {"counts": [("10", 1)]}, {"counts": []}, {"retained_float": "5.00"}],
    ids=["counted total", "counts", "empty count", "retained float"],
)
def test_closing_a_sub_register_takes_no_count_and_keeps_no_float(
    main_session, sub_a, manager, count, session_figures, db_rows
):
    sub = services.open_session(register=sub_a, opening_float="10.00", by=manager)
    before, rows = session_figures(sub), db_rows()

    with pytest.raises(InvalidInput):
        services.close_session(session=sub, by=manager, **count)

    assert session_figures(sub) == before
    assert db_rows() == rows


def test_closing_a_sub_register_transfers_its_whole_expected_cash_to_the_main_session(
    main_session, sub_a, manager, cashier
):
    sub = services.open_session(register=sub_a, opening_float="20.00", by=cashier)
    _record(sub_a, "100.00")
    _record(sub_a, "10.00", kind="refund")
    _record(sub_a, "50.00", method="card")
    services.adjust_float(session=sub, direction="in", amount="5.00", reason="change", by=cashier)
    services.adjust_float(session=sub, direction="out", amount="3.00", reason="tip", by=cashier)

    closed = _fresh(services.close_session(session=sub, retained_float="0.00", by=cashier))

    # 20.00 opening + 100.00 - 10.00 + 5.00 - 3.00: the float and adjustments move too.
    assert closed.expected_cash == D("112.00")
    assert closed.counted_cash is None
    assert closed.end_discrepancy is None
    assert closed.retained_float == D("0.00")
    # The cash stays in the store: it goes to the main register, where it is counted and
    # removed; the sub removes nothing itself.
    assert closed.cash_removed == D("0.00")
    assert closed.transferred_to_main == D("112.00")
    assert closed.total_discrepancy == closed.start_discrepancy
    assert closed.closed_by == cashier
    transfer = ClosingTransfer.objects.get(sub_session=closed)
    assert transfer.main_session_id == main_session.pk
    assert transfer.amount == D("112.00")
    assert transfer.created_by == cashier
    assert transfer.created_at == closed.closed_at
    main = _fresh(main_session)
    assert main.is_open
    assert main.sub_register_cash == D("112.00")
    assert main.own_expected_cash == D("100.00")
    assert main.current_expected_cash == D("212.00")


def test_a_sub_registers_next_session_starts_from_a_zero_closing_float(
    main_session, sub_a, manager
):
    first = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    _record(sub_a, "40.00")
    services.close_session(session=first, by=manager)

    # The drawer was emptied into the main: 15.00 found in it is a start discrepancy.
    second = _fresh(services.open_session(register=sub_a, opening_float="15.00", by=manager))
    services.close_session(session=second, by=manager)
    auto = _fresh(_record(sub_a, "1.00").session)

    assert second.previous_closing_float == D("0.00")
    assert second.start_discrepancy == D("15.00")
    assert auto.opening_float == D("0.00")
    assert auto.start_discrepancy == D("0.00")


# --- rule 10: the main closes last --------------------------------------------------------


def test_closing_a_main_register_with_open_subs_is_refused_naming_them(
    main_session, sub_a, sub_b, location, make_register, main_register, manager, db_rows
):
    sub_c = make_register(location, name="Sub Z", role="sub", main_register=main_register)
    a = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    services.open_session(register=sub_b, opening_float="0.00", by=manager)
    services.open_session(register=sub_c, opening_float="0.00", by=manager)
    services.close_session(session=a, by=manager)
    before = db_rows()

    with pytest.raises(SubSessionsOpen) as refused:
        services.close_session(session=main_session, counts=[("100", 1)], by=manager)

    assert refused.value.code == "sub_sessions_open"
    assert "Sub B" in refused.value.message
    assert "Sub Z" in refused.value.message
    assert "Sub A" not in refused.value.message  # closed already, nothing to do there
    assert _fresh(main_session).is_open
    assert db_rows() == before


def test_a_main_session_without_sub_sessions_closes_like_any_other(
    main_session, main_register, sub_a, manager
):
    _record(main_register, "35.00")

    closed = _fresh(
        services.close_session(
            session=main_session, counts=[("100", 1), ("20", 1), ("10", 1), ("5", 1)], by=manager
        )
    )

    assert closed.sub_register_cash == D("0.00")
    assert closed.expected_cash == D("135.00")
    assert closed.counted_cash == D("135.00")
    assert closed.end_discrepancy == D("0.00")
    assert closed.retained_float == D("0.00")  # a main without a default float keeps none
    assert closed.cash_removed == D("135.00")


def test_a_main_register_counts_by_denominations_not_a_total(main_session, manager):
    with pytest.raises(InvalidInput) as refused:
        services.close_session(session=main_session, counted="100.00", by=manager)

    assert refused.value.field == "counted_cash"
    assert _fresh(main_session).is_open


# --- rule 11: expected cash at the main is its own plus the transfers ----------------------


def test_the_main_close_expects_its_own_cash_plus_the_transfers_and_books_the_difference(
    main_session, main_register, sub_a, sub_b, manager
):
    a = services.open_session(register=sub_a, opening_float="10.00", by=manager)
    b = services.open_session(register=sub_b, opening_float="0.00", by=manager)
    _record(sub_a, "90.00")
    _record(sub_b, "250.00")
    _record(main_register, "40.00")
    services.close_session(session=a, by=manager)
    services.close_session(session=b, by=manager)

    # Own: 100.00 + 40.00; transfers 100.00 + 250.00; counted 488.00: 2.00 short.
    closed = _fresh(
        services.close_session(
            session=main_session,
            counts=[("200", 2), ("50", 1), ("20", 1), ("10", 1), ("5", 1), ("2", 1), ("1", 1)],
            retained_float="100.00",
            by=manager,
        )
    )

    assert closed.own_expected_cash == D("140.00")
    assert closed.sub_register_cash == D("350.00")
    assert closed.expected_cash == D("490.00")
    assert closed.counted_cash == D("488.00")
    assert closed.end_discrepancy == D("-2.00")
    assert closed.total_discrepancy == D("-2.00")
    assert closed.cash_removed == D("388.00")
    assert closed.counts.filter(stage=CountLine.Stage.CLOSING).count() == 7
    # The discrepancy is the main's; the sub sessions carry none at their end.
    for sub in (a, b):
        assert _fresh(sub).end_discrepancy is None
    assert sum(t.amount for t in closed.transfers_in.all()) == D("350.00")
