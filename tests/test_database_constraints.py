"""The database guards the invariants too: rows that bypass full_clean() and the
services (a script, a bulk update, a bug) are refused by PostgreSQL itself."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pgtrigger
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cashdrawer.models import Register
from sessions_app import services
from sessions_app.models import Adjustment, TrackingSession, Transaction


def _refused(make_row) -> None:
    # The savepoint keeps the test's own transaction usable after the error.
    with pytest.raises(IntegrityError), transaction.atomic():
        make_row()


def _refused_behind_the_trigger(make_change) -> None:
    """A closed session is first protected by a trigger that refuses any change
    (tests/test_immutability.py); with that trigger lifted, as its owner could, the check
    constraints still refuse figures that do not add up."""
    with pgtrigger.ignore("sessions_app.TrackingSession:closed_session_unchanged"):
        _refused(make_change)


def _open_row(register, **fields) -> TrackingSession:
    fields = {
        "register": register,
        "location_id": register.location_id,
        "opened_at": timezone.now(),
        "opening_float": D("0.00"),
        "start_discrepancy": D("0.00"),
        "total_discrepancy": D("0.00"),
    } | fields
    return TrackingSession.objects.create(**fields)


# --- registers --------------------------------------------------------------------------


def test_the_database_refuses_a_sub_register_without_a_main(location):
    _refused(lambda: Register.objects.create(location=location, name="S", code="s", role="sub"))


def test_the_database_refuses_a_main_register_counting_by_total(location):
    _refused(
        lambda: Register.objects.create(
            location=location, name="M", code="m", role="main", count_method="total"
        )
    )


def test_the_database_refuses_a_sub_register_with_a_default_float(location, main_register):
    _refused(
        lambda: Register.objects.create(
            location=location,
            name="S",
            code="s",
            role="sub",
            main_register=main_register,
            default_float=D("10.00"),
        )
    )


def test_the_database_refuses_a_standalone_register_with_a_main(location, main_register):
    _refused(
        lambda: Register.objects.create(
            location=location, name="S", code="s", main_register=main_register
        )
    )


# --- sessions ---------------------------------------------------------------------------


def test_the_database_refuses_a_second_open_session_on_one_register(register, manager):
    services.open_session(register=register, opening_float="150.00", by=manager)
    _refused(lambda: _open_row(register))


def test_the_database_allows_many_closed_sessions_but_one_open(register, manager):
    for _ in range(2):
        session = services.open_session(register=register, opening_float="0.00", by=manager)
        services.close_session(session=session, counted="0.00", by=manager)
    _open_row(register)
    assert TrackingSession.objects.filter(register=register).count() == 3


def test_the_database_refuses_a_start_discrepancy_that_does_not_add_up(register):
    _refused(lambda: _open_row(register, previous_closing_float=D("100.00")))


def test_the_database_refuses_a_first_session_with_a_start_discrepancy(register):
    # Found while writing this suite: "start = opening - previous" is NULL for a first
    # session, and a CHECK that comes out NULL passes, so any start discrepancy went in.
    _refused(
        lambda: _open_row(
            register,
            opening_float=D("5.00"),
            start_discrepancy=D("5.00"),
            total_discrepancy=D("5.00"),
        )
    )


def test_the_database_refuses_an_end_discrepancy_on_a_session_not_counted(register, manager):
    # Same NULL hole: "not counted" must stay null, never a zero that reads as "exactly right".
    session = services.open_session(register=register, opening_float="10.00", by=manager)
    services.close_session(session=session, by=manager)

    _refused_behind_the_trigger(
        lambda: TrackingSession.objects.filter(pk=session.pk).update(end_discrepancy=D("0.00"))
    )


def test_the_database_refuses_negative_running_totals(register, manager):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    _refused(lambda: TrackingSession.objects.filter(pk=session.pk).update(cash_sales=D("-1.00")))


@pytest.fixture
def closed_session(register, manager) -> TrackingSession:
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="52.00", by=None
    )
    return services.close_session(
        session=session, counted="200.00", retained_float="150.00", by=manager
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"end_discrepancy": D("0.00")}, id="end discrepancy"),
        pytest.param({"expected_cash": D("200.00")}, id="expected cash"),
        pytest.param({"counted_cash": D("202.00")}, id="counted cash"),
        pytest.param({"total_discrepancy": D("0.00")}, id="total discrepancy"),
        pytest.param({"cash_removed": D("52.00")}, id="cash removed"),
        pytest.param({"cash_sales": D("50.00")}, id="cash sales under the expected cash"),
        pytest.param({"retained_float": None}, id="no retained float"),
        pytest.param({"closed_at": None}, id="no closing time"),
        pytest.param({"status": "open"}, id="reopened with its closing figures"),
        pytest.param({"status": "ajar"}, id="unknown status"),
    ],
)
def test_the_database_refuses_a_closed_session_whose_figures_do_not_add_up(closed_session, change):
    assert closed_session.end_discrepancy == D("-2.00")

    _refused_behind_the_trigger(
        lambda: TrackingSession.objects.filter(pk=closed_session.pk).update(**change)
    )

    closed_session.refresh_from_db()
    assert closed_session.end_discrepancy == D("-2.00")


def test_the_database_refuses_a_session_that_closes_before_it_opens(closed_session):
    _refused_behind_the_trigger(
        lambda: TrackingSession.objects.filter(pk=closed_session.pk).update(
            closed_at=closed_session.opened_at - dt.timedelta(seconds=1)
        )
    )


# --- transactions and adjustments -------------------------------------------------------


def _transaction_row(register, **fields) -> Transaction:
    now = timezone.now()
    fields = {
        "register": register,
        "kind": "sale",
        "payment_method": "cash",
        "amount": D("1.00"),
        "occurred_at": now,
        "received_at": now,
    } | fields
    return Transaction.objects.create(**fields)


def test_the_database_refuses_a_negative_transaction_amount(register):
    _refused(lambda: _transaction_row(register, amount=D("-1.00")))


def test_the_database_refuses_a_repeated_external_id_on_one_register(
    register, location, make_register
):
    _transaction_row(register, external_id="receipt-1")
    _refused(lambda: _transaction_row(register, external_id="receipt-1"))
    # Another register, or no external id at all, is fine.
    _transaction_row(make_register(location), external_id="receipt-1")
    _transaction_row(register)
    _transaction_row(register)


def test_the_database_refuses_an_unknown_kind_or_an_empty_payment_method(register):
    _refused(lambda: _transaction_row(register, kind="gift"))
    _refused(lambda: _transaction_row(register, payment_method=""))


def test_the_database_refuses_an_adjustment_of_nothing_or_without_a_reason(register, manager):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    row = {"session": session, "direction": "in", "reason": "x", "created_at": timezone.now()}
    _refused(lambda: Adjustment.objects.create(**(row | {"amount": D("0.00")})))
    _refused(lambda: Adjustment.objects.create(**(row | {"amount": D("1.00"), "reason": ""})))
    _refused(lambda: Adjustment.objects.create(**(row | {"amount": D("1.00"), "direction": "x"})))
