"""PostgreSQL itself refuses to change what was recorded (DOMAIN.md, "Immutable records").

Triggers (django-pgtrigger, declared on the models) refuse UPDATE and DELETE of
transactions, adjustments, count lines, closing transfers and corrections, and any change
or deletion of a closed session. Each is tried here in raw SQL, as a script or a person
with the application's database password would; the services never need them.
"""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from sessions_app import services
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)


def _refused(statement: str, params: list) -> None:
    with (
        pytest.raises(DatabaseError, match="pgtrigger: Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)


@pytest.fixture
def history(main_register, sub_a, manager, cashier):
    """A shared close with every kind of record: sales, an adjustment, an opening and a
    closing count, a transfer from a sub, and a correction."""
    main = services.open_session(register=main_register, opening_counts=[("50.00", 2)], by=manager)
    sub = services.open_session(register=sub_a, opening_float="20.00", by=cashier)
    services.record_transaction(
        register=main_register, kind="sale", payment_method="cash", amount="23.10", by=manager
    )
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="5.00", by=cashier
    )
    services.adjust_float(session=main, direction="out", amount="3.00", reason="tip", by=manager)
    services.close_session(session=sub, by=cashier)
    closed = services.close_session(session=main, counts=[("50.00", 2), ("10.00", 4)], by=manager)
    services.add_correction(session=closed, amount="0.10", reason="coin found", by=manager)
    return closed


TABLES = [
    pytest.param(Transaction, id="transaction"),
    pytest.param(Adjustment, id="adjustment"),
    pytest.param(CountLine, id="count line"),
    pytest.param(ClosingTransfer, id="closing transfer"),
    pytest.param(Correction, id="correction"),
]


@pytest.mark.parametrize("model", TABLES)
def test_a_record_cannot_be_updated_in_sql(history, model):
    row = model.objects.order_by("id").first()
    table = model._meta.db_table
    # Setting a column to itself is still an update: nothing may be rewritten.
    _refused(f"UPDATE {table} SET id = id WHERE id = %s", [row.pk])
    _refused(f"UPDATE {table} SET id = id", [])


@pytest.mark.parametrize("model", TABLES)
def test_a_record_cannot_be_deleted_in_sql(history, model):
    row = model.objects.order_by("id").first()
    _refused(f"DELETE FROM {model._meta.db_table} WHERE id = %s", [row.pk])
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE sessions_app_trackingsession SET closing_note = 'edited' WHERE id = %s",
        "UPDATE sessions_app_trackingsession SET counted_cash = counted_cash + 0.50, "
        "end_discrepancy = end_discrepancy + 0.50, total_discrepancy = total_discrepancy "
        "+ 0.50, cash_removed = cash_removed + 0.50 WHERE id = %s",
        "UPDATE sessions_app_trackingsession SET status = 'open' WHERE id = %s",
        "DELETE FROM sessions_app_trackingsession WHERE id = %s",
    ],
    ids=["note", "figures that add up", "reopen", "delete"],
)
def test_a_closed_session_cannot_be_changed_or_deleted_in_sql(history, statement):
    before = TrackingSession.objects.filter(pk=history.pk).values().get()
    _refused(statement, [history.pk])
    assert TrackingSession.objects.filter(pk=history.pk).values().get() == before


def test_an_open_session_still_takes_its_running_totals(register, manager):
    """The protection is on closed sessions: an open one changes through the services,
    and its close is the last change it takes."""
    session = services.open_session(register=register, opening_float="10.00", by=manager)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="2.50", by=manager
    )
    closed = services.close_session(session=session, counted="12.50", by=manager)
    assert closed.end_discrepancy == 0
    _refused("UPDATE sessions_app_trackingsession SET cash_sales = 0 WHERE id = %s", [session.pk])


def test_the_services_need_no_update_or_delete_of_a_record(history, register, manager):
    """A late sale after a close goes to a new session, never back into the closed one."""
    before = TrackingSession.objects.filter(pk=history.pk).values().get()
    services.record_transaction(
        register=history.register,
        kind="sale",
        payment_method="cash",
        amount="1.00",
        occurred_at=history.opened_at,
        by=manager,
    )
    assert TrackingSession.objects.filter(pk=history.pk).values().get() == before


def test_a_role_that_does_not_own_the_tables_cannot_lift_a_trigger(history):
    """pgtrigger lets a connection lift a trigger by setting `pgtrigger.ignore`; we honour
    that only for the tables' owner (sessions_app/triggers.py), so the application's own
    role (docs/DEPLOYMENT.md) has no way around the protection. Roles are cluster-wide:
    this one lives only inside the test's transaction."""
    sale = Transaction.objects.order_by("id").first()
    lift = "SELECT set_config('pgtrigger.ignore', %s, true)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE %s", ["%transaction_app%"])
        trigger = cursor.fetchone()[0]
        cursor.execute("CREATE ROLE cashdrawer_app_test NOLOGIN")
        cursor.execute("GRANT USAGE ON SCHEMA public TO cashdrawer_app_test")
        cursor.execute(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON sessions_app_transaction "
            "TO cashdrawer_app_test"
        )
        with transaction.atomic():
            cursor.execute("SET LOCAL ROLE cashdrawer_app_test")
            cursor.execute(lift, ["{" + trigger + "}"])
            with (
                pytest.raises(DatabaseError, match="pgtrigger: Cannot update or delete"),
                transaction.atomic(),
            ):
                cursor.execute(
                    "UPDATE sessions_app_transaction SET amount = 0 WHERE id = %s", [sale.pk]
                )
            cursor.execute("RESET ROLE")
        # The owner (here the test database's owner) still can, as it could drop the trigger.
        with transaction.atomic():
            cursor.execute(lift, ["{" + trigger + "}"])
            cursor.execute(
                "UPDATE sessions_app_transaction SET amount = 0 WHERE id = %s", [sale.pk]
            )
            transaction.set_rollback(True)
