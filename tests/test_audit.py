"""Each operation writes an audit entry: who, which object, what, when."""

from __future__ import annotations

import pytest

from cashdrawer.models import AuditEntry
from sessions_app import services
from sessions_app.exceptions import SessionAlreadyOpen


def _actions():
    return list(AuditEntry.objects.order_by("id").values_list("action", "object_type", "user_id"))


def test_every_operation_leaves_an_audit_entry(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="10.00", by=manager
    )
    services.adjust_float(session=session, direction="in", amount="1.00", reason="x", by=manager)
    services.close_session(session=session, counted="161.00", by=manager)
    services.add_correction(session=session, amount="-1.00", reason="miscount", by=manager)
    services.record_transaction(
        register=register, kind="refund", payment_method="card", amount="3.00", by=None
    )

    assert _actions() == [
        ("session.open", "sessions_app.trackingsession", manager.pk),
        ("transaction.sale", "sessions_app.transaction", manager.pk),
        ("adjustment.in", "sessions_app.adjustment", manager.pk),
        ("session.close", "sessions_app.trackingsession", manager.pk),
        ("session.correct", "sessions_app.correction", manager.pk),
        ("session.open_automatically", "sessions_app.trackingsession", None),
        ("transaction.refund", "sessions_app.transaction", None),
    ]
    close = AuditEntry.objects.get(action="session.close")
    assert close.object_id == str(session.pk)
    assert close.data["counted_cash"] == "161.00"


def test_a_refused_operation_leaves_no_audit_entry(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    before = AuditEntry.objects.count()
    with pytest.raises(SessionAlreadyOpen):
        services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    assert AuditEntry.objects.count() == before + 1
