"""Both worked examples of DOMAIN.md, driven entirely over the API, every figure checked."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _post(client, path: str, body: dict, status: int = 201) -> dict:
    response = client.post(path, body, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def test_worked_example_of_one_register(client_for, manager, register):
    api = client_for(manager)

    session = _post(api, "/api/v1/sessions/", {"register": register.pk, "opening_float": "150.00"})
    assert session["start_discrepancy"] == "0.00"
    assert session["previous_closing_float"] is None
    assert session["opened_by"] == {"kind": "user", "id": manager.pk, "name": "Maria"}
    assert session["opened_automatically"] is False

    for kind, method, amount in [
        ("sale", "cash", "45.50"),
        ("sale", "cash", 20),  # a JSON number is fine too
        ("refund", "cash", "5.50"),
        ("sale", "card", "80.00"),
    ]:
        sale = _post(
            api,
            "/api/v1/transactions/",
            {"register": register.pk, "kind": kind, "payment_method": method, "amount": amount},
        )
        assert sale["session"] == session["id"]
        assert sale["late"] is False
    sid = session["id"]
    out = _post(
        api,
        f"/api/v1/sessions/{sid}/adjustments/",
        {"direction": "out", "amount": "10.00", "reason": "drawer over limit"},
    )
    assert out["amount"] == "10.00"
    assert out["created_by"] == {"kind": "user", "id": manager.pk, "name": "Maria"}
    _post(
        api,
        f"/api/v1/sessions/{sid}/adjustments/",
        {"direction": "in", "amount": "2.00", "reason": "own money for change"},
    )

    now = api.get(f"/api/v1/sessions/{sid}/").json()
    assert now["expected_cash"] == "202.00"
    assert now["net_cash"] == "60.00"
    assert now["adjustments_in"] == "2.00"
    assert now["adjustments_out"] == "10.00"
    assert [a["reason"] for a in now["adjustments"]] == [
        "drawer over limit",
        "own money for change",
    ]

    closed = _post(
        api,
        f"/api/v1/sessions/{sid}/close/",
        {"counted_cash": "200.00", "retained_float": "150.00"},
        status=200,
    )
    assert closed["status"] == "closed"
    assert closed["expected_cash"] == "202.00"
    assert closed["counted_cash"] == "200.00"
    assert closed["end_discrepancy"] == "-2.00"
    assert closed["cash_removed"] == "50.00"
    assert closed["total_discrepancy"] == "-2.00"
    assert closed["retained_float"] == "150.00"
    assert closed["total_sales"] == "145.50"
    assert closed["total_refunds"] == "5.50"
    assert closed["cash_sales"] == "65.50"
    assert closed["cash_refunds"] == "5.50"
    assert closed["sales_by_method"] == {"card": "80.00", "cash": "65.50"}
    assert closed["closed_by"] == {"kind": "user", "id": manager.pk, "name": "Maria"}

    late_sale = _post(
        api,
        "/api/v1/transactions/",
        {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": "12.00"},
    )
    second = api.get(f"/api/v1/sessions/{late_sale['session']}/").json()
    assert second["id"] != sid
    assert second["opened_automatically"] is True
    assert second["opening_float"] == "150.00"
    assert second["previous_closing_float"] == "150.00"
    assert second["start_discrepancy"] == "0.00"
    assert second["expected_cash"] == "162.00"


def test_worked_example_of_shared_closing(client_for, manager, main_register, sub_a, sub_b):
    api = client_for(manager)
    main = _post(api, "/api/v1/sessions/", {"register": main_register.pk, "opening_float": "0"})
    subs = {
        register.pk: _post(
            api, "/api/v1/sessions/", {"register": register.pk, "opening_float": "0.00"}
        )
        for register in (sub_a, sub_b)
    }
    for register, amount in [(sub_a, "300.00"), (sub_b, "300.00"), (main_register, "400.00")]:
        _post(
            api,
            "/api/v1/transactions/",
            {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": amount},
        )

    refused = api.post(f"/api/v1/sessions/{main['id']}/close/", {"counts": []}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "sub_sessions_open"
    assert "Sub A" in refused.json()["detail"] and "Sub B" in refused.json()["detail"]

    for register in (sub_a, sub_b):
        closed_sub = _post(
            api, f"/api/v1/sessions/{subs[register.pk]['id']}/close/", {}, status=200
        )
        assert closed_sub["main_session"] == main["id"]
        assert closed_sub["expected_cash"] == "300.00"
        assert closed_sub["retained_float"] == "0.00"
        assert closed_sub["counted_cash"] is None
        assert closed_sub["end_discrepancy"] is None

    before = api.get(f"/api/v1/sessions/{main['id']}/").json()
    assert before["sub_register_cash"] == "600.00"
    assert before["own_expected_cash"] == "400.00"
    assert before["expected_cash"] == "1000.00"

    # 1,002.50 counted by denominations: 5 × 200 + 1 × 2 + 1 × 0.50.
    closed = _post(
        api,
        f"/api/v1/sessions/{main['id']}/close/",
        {
            "counts": [
                {"value": "200.00", "quantity": 5},
                {"value": "2.00", "quantity": 1},
                {"value": "0.50", "quantity": 1},
            ],
            "retained_float": "0.00",
        },
        status=200,
    )
    assert closed["expected_cash"] == "1000.00"
    assert closed["sub_register_cash"] == "600.00"
    assert closed["own_expected_cash"] == "400.00"
    assert closed["counted_cash"] == "1002.50"
    assert closed["end_discrepancy"] == "2.50"
    assert closed["cash_removed"] == "1002.50"
    assert closed["counts"]["closing"] == [
        {"value": "200.00", "quantity": 5},
        {"value": "2.00", "quantity": 1},
        {"value": "0.50", "quantity": 1},
    ]
