"""Blind close: cashiers and device tokens count without knowing the expected cash."""

from __future__ import annotations

import pytest

from sessions_app import services
from sessions_app.api import BLIND_FIELDS

pytestmark = pytest.mark.django_db


@pytest.fixture
def blind_register(location, make_register):
    return make_register(
        location, name="Blind", code="blind", count_method="total", default_float="50.00",
        blind_close=True,
    )  # fmt: skip


def _play(register, by) -> int:
    session = services.open_session(register=register, opening_float="50.00", by=by)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="30.00", by=by
    )
    services.record_transaction(
        register=register, kind="sale", payment_method="card", amount="20.00", by=by
    )
    services.adjust_float(session=session, direction="out", amount="5.00", reason="bank", by=by)
    return session.pk


def test_cashiers_and_devices_read_no_expected_cash_on_an_open_blind_session(
    client_for, device_client_for, cashier, manager, accountant, blind_register
):
    sid = _play(blind_register, cashier)
    for api in (client_for(cashier), device_client_for(blind_register)):
        session = api.get(f"/api/v1/sessions/{sid}/").json()
        for name in BLIND_FIELDS:
            assert session[name] is None, name
        # Sealed: not even what the counter entered (the float, the adjustments): with the
        # rest of the sum hidden they are still parts of it.
        assert session["opening_float"] is None and session["adjustments_out"] is None
        assert [a["amount"] for a in session["adjustments"]] == [None]
        listed = api.get("/api/v1/sessions/").json()["results"]
        assert listed[0]["expected_cash"] is None and listed[0]["sales_by_method"] is None
        rows = api.get(f"/api/v1/transactions/?session={sid}").json()["results"]
        assert [(row["payment_method"], row["amount"]) for row in rows] == [
            ("cash", None),
            ("card", "20.00"),
        ]

    for api in (client_for(manager), client_for(accountant)):
        session = api.get(f"/api/v1/sessions/{sid}/").json()
        assert session["expected_cash"] == "75.00" and session["opening_float"] == "50.00"
        assert session["sales_by_method"] == {"card": "20.00", "cash": "30.00"}
        rows = api.get(f"/api/v1/transactions/?session={sid}").json()["results"]
        assert [row["amount"] for row in rows] == ["30.00", "20.00"]


def test_after_the_count_is_submitted_the_cashier_sees_the_result(
    client_for, cashier, blind_register
):
    sid = _play(blind_register, cashier)
    closed = client_for(cashier).post(
        f"/api/v1/sessions/{sid}/close/", {"counted_cash": "74.00"}, format="json"
    )
    assert closed.status_code == 200
    body = closed.json()
    assert body["expected_cash"] == "75.00"
    assert body["end_discrepancy"] == "-1.00"
    assert body["cash_sales"] == "30.00"


def test_without_blind_close_a_cashier_sees_everything(client_for, cashier, register):
    session = services.open_session(register=register, opening_float="10.00", by=cashier)
    assert (
        client_for(cashier).get(f"/api/v1/sessions/{session.pk}/").json()["expected_cash"]
        == "10.00"
    )


def test_a_blind_main_registers_sub_sessions_are_blind_until_the_main_closes(
    client_for, cashier, manager, main_register, sub_a
):
    main_register.blind_close = True
    main_register.save()
    main = services.open_session(register=main_register, opening_float="0", by=manager)
    sub = services.open_session(register=sub_a, opening_float="0", by=manager)
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="300.00", by=None
    )
    services.close_session(session=sub, by=manager)
    api = client_for(cashier)
    # The closed sub session would tell the main register's expected cash: hidden too.
    assert api.get(f"/api/v1/sessions/{sub.pk}/").json()["expected_cash"] is None
    assert api.get(f"/api/v1/sessions/{main.pk}/").json()["sub_register_cash"] is None
    assert (
        client_for(manager).get(f"/api/v1/sessions/{sub.pk}/").json()["expected_cash"] == "300.00"
    )
    services.close_session(session=main, counts=[], by=manager)
    assert api.get(f"/api/v1/sessions/{sub.pk}/").json()["expected_cash"] == "300.00"
