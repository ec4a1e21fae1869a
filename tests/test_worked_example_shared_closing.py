"""DOMAIN.md shared-closing worked example (from the German seed), through the services."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from sessions_app import services
from sessions_app.exceptions import SubSessionsOpen
from sessions_app.models import ClosingTransfer


def _cash_sale(register, amount, by):
    return services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount=amount, by=by
    ).transaction


def test_shared_closing_worked_example(main_register, sub_a, sub_b, manager):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    a = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    b = services.open_session(register=sub_b, opening_float="0.00", by=manager)
    assert a.main_session_id == main.pk and b.main_session_id == main.pk

    _cash_sale(sub_a, "300.00", manager)
    _cash_sale(sub_b, "300.00", manager)
    _cash_sale(main_register, "400.00", manager)

    with pytest.raises(SubSessionsOpen) as refused:
        services.close_session(session=main, counts=[("500.00", 2)], by=manager)
    assert "Sub A" in refused.value.message and "Sub B" in refused.value.message

    for sub in (a, b):
        closed = services.close_session(session=sub, by=manager)
        assert closed.retained_float == D("0.00")
        assert closed.expected_cash == D("300.00")
        assert closed.counted_cash is None
        assert ClosingTransfer.objects.get(sub_session=sub).amount == D("300.00")

    main.refresh_from_db()
    assert main.own_expected_cash == D("400.00")
    assert main.sub_register_cash == D("600.00")
    assert main.current_expected_cash == D("1000.00")

    # 1,002.50 counted: 2 × 500 + 1 × 2 + 1 × 0.50
    closed = services.close_session(
        session=main,
        counts=[
            {"value": "500", "quantity": 2},
            {"value": "2", "quantity": 1},
            {"value": "0.50", "quantity": 1},
        ],
        retained_float="0.00",
        by=manager,
    )
    closed.refresh_from_db()
    assert closed.expected_cash == D("1000.00")
    assert closed.counted_cash == D("1002.50")
    assert closed.end_discrepancy == D("2.50")
    booked = closed.sub_register_cash + closed.own_expected_cash + closed.end_discrepancy
    assert booked == D("1002.50") == closed.counted_cash
