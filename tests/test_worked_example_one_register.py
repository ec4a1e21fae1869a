"""DOMAIN.md "Worked example of one register", step by step through the services."""

from __future__ import annotations

from decimal import Decimal as D

from sessions_app import selectors, services


def test_worked_example_of_one_register(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    assert session.previous_closing_float is None
    assert session.start_discrepancy == D("0.00")

    for kind, method, amount in [
        ("sale", "cash", "45.50"),
        ("sale", "cash", "20.00"),
        ("refund", "cash", "5.50"),
        ("sale", "card", "80.00"),
    ]:
        recorded = services.record_transaction(
            register=register, kind=kind, payment_method=method, amount=amount, by=manager
        )
        assert recorded.created and recorded.transaction.session_id == session.pk
    services.adjust_float(
        session=session, direction="out", amount="10.00", reason="drawer over limit", by=manager
    )
    services.adjust_float(
        session=session, direction="in", amount="2.00", reason="own money for change", by=manager
    )

    session.refresh_from_db()
    assert session.current_expected_cash == D("202.00")
    assert session.net_cash == D("60.00")

    closed = services.close_session(
        session=session, counted="200.00", retained_float="150.00", by=manager
    )
    closed.refresh_from_db()
    assert closed.status == "closed"
    assert closed.expected_cash == D("202.00")
    assert closed.counted_cash == D("200.00")
    assert closed.end_discrepancy == D("-2.00")
    assert closed.cash_removed == D("50.00")
    assert closed.total_discrepancy == D("-2.00")
    assert closed.total_sales == D("145.50")
    assert selectors.sales_by_method(closed) == {"card": D("80.00"), "cash": D("65.50")}
    assert closed.total_refunds == D("5.50")

    recorded = services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="12.00", by=None
    )
    second = recorded.transaction.session
    assert second.pk != closed.pk
    assert second.opened_automatically
    assert second.opening_float == D("150.00")
    assert second.previous_closing_float == D("150.00")
    assert second.start_discrepancy == D("0.00")
    second.refresh_from_db()
    assert second.current_expected_cash == D("162.00")
