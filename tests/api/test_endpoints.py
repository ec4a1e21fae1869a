"""The success path of every endpoint of API.md: paths, fields, filters, ordering, pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cashdrawer.models import AuditEntry, Location, PaymentMethod, Register
from cashdrawer.money import CEILING_MAX
from sessions_app import services
from sessions_app.models import TrackingSession, Transaction

pytestmark = pytest.mark.django_db

CEST = dt.timezone(dt.timedelta(hours=2))

SESSION_FIELDS = {
    "id",
    "register",
    "location",
    "status",
    "opened_at",
    "opened_by",
    "opened_automatically",
    "opening_float",
    "opening_note",
    "previous_closing_float",
    "start_discrepancy",
    "cash_sales",
    "cash_refunds",
    "net_cash",
    "adjustments_in",
    "adjustments_out",
    "sub_register_cash",
    "expected_cash",
    "total_sales",
    "sales_by_method",
    "closed_at",
    "closed_by",
    "counted_cash",
    "end_discrepancy",
    "retained_float",
    "cash_removed",
    "total_discrepancy",
    "main_session",
    "adjustments",
    "counts",
}


# --- locations -----------------------------------------------------------------------


def test_locations_list_shows_the_users_locations(client_for, manager, location, other_location):
    response = client_for(manager).get("/api/v1/locations/")
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": location.pk,
                "name": "Amsterdam",
                "currency": "EUR",
                "timezone": "Europe/Amsterdam",
                "max_amount": "100000.00",
                "discrepancy_threshold": "1000000.00",  # tests/conftest.py: LENIENT
                "payment_methods": ["card", "cash"],
            }
        ],
    }


def test_a_manager_sets_the_discrepancy_threshold_and_a_bad_one_changes_nothing(
    client_for, manager, location
):
    api = client_for(manager)
    url = f"/api/v1/locations/{location.pk}/"
    response = api.patch(url, {"discrepancy_threshold": "25.00"})
    assert response.status_code == 200
    assert response.json()["discrepancy_threshold"] == "25.00"
    for bad in ["-1", "1.234", "abc", str(CEILING_MAX + 1)]:
        response = api.patch(url, {"discrepancy_threshold": bad})
        assert response.status_code == 400, bad
        assert "discrepancy_threshold" in response.json(), bad
    location.refresh_from_db()
    assert location.discrepancy_threshold == Decimal("25.00")


def test_a_location_reads_and_a_manager_renames_it(client_for, manager, location):
    api = client_for(manager)
    assert api.get(f"/api/v1/locations/{location.pk}/").json()["name"] == "Amsterdam"
    response = api.patch(f"/api/v1/locations/{location.pk}/", {"name": "Amsterdam Centrum"})
    assert response.status_code == 200
    assert response.json()["name"] == "Amsterdam Centrum"
    location.refresh_from_db()
    assert location.name == "Amsterdam Centrum"
    assert AuditEntry.objects.filter(action="location.update", object_id=str(location.pk)).exists()


def test_a_superuser_creates_a_location(client_for, superuser):
    response = client_for(superuser).post(
        "/api/v1/locations/", {"name": "Utrecht", "currency": "EUR", "timezone": "Europe/Amsterdam"}
    )
    assert response.status_code == 201
    assert Location.objects.get(pk=response.json()["id"]).name == "Utrecht"


def test_a_location_with_an_unknown_time_zone_or_a_taken_name_is_400(
    client_for, superuser, location
):
    api = client_for(superuser)
    response = api.post(
        "/api/v1/locations/", {"name": "X", "currency": "EUR", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 400
    assert "timezone" in response.json()
    response = api.post(
        "/api/v1/locations/", {"name": "Amsterdam", "currency": "EUR", "timezone": "UTC"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_a_locations_currency_cannot_change_once_it_has_sessions(client_for, manager, register):
    services.open_session(register=register, opening_float="0", by=manager)
    response = client_for(manager).patch(
        f"/api/v1/locations/{register.location_id}/", {"currency": "USD"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["currency"]


# --- registers -----------------------------------------------------------------------


def test_register_fields(client_for, manager, register):
    response = client_for(manager).get(f"/api/v1/registers/{register.pk}/")
    assert response.status_code == 200
    assert response.json() == {
        "id": register.pk,
        "location": register.location_id,
        "name": "R",
        "code": "r",
        "role": "standalone",
        "main_register": None,
        "count_method": "total",
        "default_float": "150.00",
        "cash_tracking": True,
        "blind_close": False,
    }


def test_registers_filter_by_location_and_role(
    client_for, manager, register, main_register, sub_a, other_location
):
    api = client_for(manager)
    all_ids = [r["id"] for r in api.get("/api/v1/registers/").json()["results"]]
    assert sorted(all_ids) == sorted([register.pk, main_register.pk, sub_a.pk])
    subs = api.get("/api/v1/registers/", {"role": "sub"}).json()["results"]
    assert [r["id"] for r in subs] == [sub_a.pk]
    here = api.get("/api/v1/registers/", {"location": register.location_id}).json()
    assert here["count"] == 3
    assert api.get("/api/v1/registers/", {"location": other_location.pk}).json()["count"] == 0


def test_a_manager_creates_and_changes_a_register(client_for, manager, location, main_register):
    api = client_for(manager)
    response = api.post(
        "/api/v1/registers/",
        {
            "location": location.pk,
            "name": "Sub C",
            "code": "sub-c",
            "role": "sub",
            "main_register": main_register.pk,
        },
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["role"] == "sub"
    assert created["main_register"] == main_register.pk
    assert created["default_float"] is None

    response = api.patch(f"/api/v1/registers/{created['id']}/", {"blind_close": True})
    assert response.status_code == 200
    assert Register.objects.get(pk=created["id"]).blind_close is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "sub"}, "main_register"),
        ({"role": "sub", "main_register": "MAIN", "default_float": "10.00"}, "default_float"),
        ({"role": "main", "count_method": "total"}, "count_method"),
        ({"main_register": "MAIN"}, "main_register"),
        ({"default_float": "1.005"}, "default_float"),
        ({"default_float": "-1.00"}, "default_float"),
        ({"code": "r"}, "non_field_errors"),  # taken at this location
        ({"code": "not a slug"}, "code"),
        ({"role": "cashbox"}, "role"),
    ],
)
def test_register_rules_of_the_model_answer_400_with_the_field(
    client_for, manager, location, register, main_register, body, field
):
    body = {"location": location.pk, "name": "New", "code": "new", **body}
    if body.get("main_register") == "MAIN":
        body["main_register"] = main_register.pk
    response = client_for(manager).post("/api/v1/registers/", body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert all(isinstance(m, str) for messages in response.json().values() for m in messages)


def test_a_jpy_register_refuses_cents_in_its_default_float(client_for, make_user, jpy_location):
    boss = make_user("kenji", location=jpy_location, role="manager")
    response = client_for(boss).post(
        "/api/v1/registers/",
        {"location": jpy_location.pk, "name": "Till", "code": "t", "default_float": "1000.50"},
    )
    assert response.status_code == 400
    assert list(response.json()) == ["default_float"]
    response = client_for(boss).post(
        "/api/v1/registers/",
        {"location": jpy_location.pk, "name": "Till", "code": "t", "default_float": 10000},
    )
    assert response.status_code == 201
    assert response.json()["default_float"] == "10000"


def test_a_register_with_an_open_session_keeps_its_role(client_for, manager, register):
    services.open_session(register=register, opening_float="0", by=manager)
    response = client_for(manager).patch(
        f"/api/v1/registers/{register.pk}/", {"cash_tracking": False}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["cash_tracking"]


# --- denominations -------------------------------------------------------------------


def test_denominations_of_a_currency_by_value(client_for, manager):
    response = client_for(manager).get("/api/v1/denominations/", {"currency": "EUR"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [d["value"] for d in results] == [
        "0.01", "0.02", "0.05", "0.10", "0.20", "0.50", "1.00", "2.00",
        "5.00", "10.00", "20.00", "50.00", "100.00", "200.00", "500.00",
    ]  # fmt: skip
    assert results[0] == {"currency": "EUR", "value": "0.01", "kind": "coin"}
    assert results[-1]["kind"] == "note"


def test_yen_denominations_have_no_decimals(client_for, manager):
    results = client_for(manager).get("/api/v1/denominations/", {"currency": "JPY"}).json()
    assert all("." not in d["value"] for d in results["results"])


# --- sessions ------------------------------------------------------------------------


def test_open_a_session_with_a_count(client_for, cashier, counted_register):
    response = client_for(cashier).post(
        "/api/v1/sessions/",
        {
            "register": counted_register.pk,
            "opening_counts": [{"value": "50.00", "quantity": 3}, {"value": 0.5, "quantity": 2}],
            "note": "morning",
        },
    )
    assert response.status_code == 201, response.json()
    session = response.json()
    assert set(session) >= SESSION_FIELDS
    assert session["opening_float"] == "151.00"
    assert session["opening_note"] == "morning"
    assert session["counts"] == {
        "opening": [{"value": "50.00", "quantity": 3}, {"value": "0.50", "quantity": 2}],
        "closing": [],
    }
    assert session["status"] == "open"
    assert session["sub_register_cash"] == "0.00"
    assert session["main_session"] is None
    assert session["closed_at"] is None
    assert session["counted_cash"] is None
    assert session["opened_by"] == {"kind": "user", "id": cashier.pk, "name": "Carl"}


def _session_at(register, opened: dt.datetime, closed: dt.datetime | None, counted: str):
    session = services.open_session(register=register, opening_float="0", by=None, at=opened)
    if closed is not None:
        services.close_session(session=session, counted=counted, by=None, at=closed)
    return session


def test_sessions_filter_by_status_register_and_local_dates(
    client_for, manager, register, make_register, location
):
    other = make_register(location, count_method="total")
    amsterdam = location.tzinfo
    # 23:30 in Amsterdam on 1 March (22:30 UTC) and 00:10 on 2 March (23:10 UTC on 1 March):
    # the local date decides, not the UTC one.
    first = _session_at(
        register,
        dt.datetime(2026, 3, 1, 23, 30, tzinfo=amsterdam),
        dt.datetime(2026, 3, 1, 23, 50, tzinfo=amsterdam),
        "1.00",
    )
    second = _session_at(
        register,
        dt.datetime(2026, 3, 2, 0, 10, tzinfo=amsterdam),
        dt.datetime(2026, 3, 2, 9, 0, tzinfo=amsterdam),
        "0.00",
    )
    third = _session_at(other, dt.datetime(2026, 3, 3, 8, 0, tzinfo=amsterdam), None, "")
    api = client_for(manager)

    def ids(**params):
        response = api.get("/api/v1/sessions/", params)
        assert response.status_code == 200, response.json()
        return [s["id"] for s in response.json()["results"]]

    assert ids() == [third.pk, second.pk, first.pk]  # newest first
    assert ids(status="open") == [third.pk]
    assert ids(status="closed") == [second.pk, first.pk]
    assert ids(register=register.pk) == [second.pk, first.pk]
    assert ids(location=location.pk) == [third.pk, second.pk, first.pk]
    assert ids(opened_from="2026-03-02") == [third.pk, second.pk]
    assert ids(opened_to="2026-03-01") == [first.pk]
    assert ids(opened_from="2026-03-02", opened_to="2026-03-02") == [second.pk]
    assert ids(ordering="opened_at") == [first.pk, second.pk, third.pk]
    # Total discrepancies: first +1.00 (counted 1.00 of 0.00), second -1.00 (it opened with
    # 0.00 after first kept 1.00), third 0.00 (open, a first session).
    assert ids(ordering="total_discrepancy") == [second.pk, third.pk, first.pk]
    assert ids(ordering="-total_discrepancy") == [first.pk, third.pk, second.pk]
    assert ids(ordering="closed_at")[:2] == [first.pk, second.pk]


def test_sessions_paginate(client_for, manager, register):
    for _ in range(3):
        session = services.open_session(register=register, opening_float="0", by=None)
        services.close_session(session=session, counted="0", by=None)
    api = client_for(manager)
    page = api.get("/api/v1/sessions/", {"page_size": 2}).json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"].endswith("page=2&page_size=2")
    assert page["previous"] is None
    second = api.get("/api/v1/sessions/", {"page_size": 2, "page": 2}).json()
    assert len(second["results"]) == 1
    assert api.get("/api/v1/sessions/", {"page": 3, "page_size": 2}).status_code == 404
    # More than 500 is cut to 500, not refused.
    assert api.get("/api/v1/sessions/", {"page_size": 100000}).status_code == 200


def test_an_adjustment(client_for, cashier, register):
    session = services.open_session(register=register, opening_float="10.00", by=None)
    response = client_for(cashier).post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "in", "amount": "5", "reason": "own money for change"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id", "session", "direction", "amount", "reason", "created_at", "created_by"
    }  # fmt: skip
    assert body["session"] == session.pk
    assert body["amount"] == "5.00"
    assert body["created_by"] == {"kind": "user", "id": cashier.pk, "name": "Carl"}
    session.refresh_from_db()
    assert session.adjustments_in == Decimal("5.00")


def test_close_without_a_count_is_not_counted(client_for, manager, register):
    session = services.open_session(register=register, opening_float="150.00", by=None)
    response = client_for(manager).post(f"/api/v1/sessions/{session.pk}/close/", {"note": "late"})
    assert response.status_code == 200
    body = response.json()
    assert body["counted_cash"] is None
    assert body["end_discrepancy"] is None
    assert body["retained_float"] == "150.00"
    assert body["cash_removed"] == "0.00"
    assert body["closing_note"] == "late"


# --- transactions --------------------------------------------------------------------


def test_post_a_transaction_with_every_field(client_for, cashier, register):
    PaymentMethod.objects.create(location=register.location, name="gift card")
    occurred = (timezone.now() - dt.timedelta(days=3)).astimezone(CEST).isoformat()
    response = client_for(cashier).post(
        "/api/v1/transactions/",
        {
            "register": register.pk,
            "kind": "sale",
            "payment_method": "Gift card",
            "amount": "45.50",
            "occurred_at": occurred,
            "external_id": "receipt-123",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {
        "id", "session", "register", "kind", "payment_method", "amount",
        "occurred_at", "received_at", "external_id", "late",
    }  # fmt: skip
    assert body["payment_method"] == "gift card"
    assert body["amount"] == "45.50"
    assert body["external_id"] == "receipt-123"
    assert dt.datetime.fromisoformat(body["occurred_at"]) == dt.datetime.fromisoformat(occurred)
    assert body["late"] is False


def test_a_repeated_external_id_answers_the_first_transaction_with_200(
    client_for, cashier, register
):
    api = client_for(cashier)
    body = {
        "register": register.pk,
        "kind": "sale",
        "payment_method": "cash",
        "amount": "10.00",
        "external_id": "r-1",
    }
    first = api.post("/api/v1/transactions/", body)
    again = api.post("/api/v1/transactions/", {**body, "amount": "99.00"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Transaction.objects.count() == 1


def test_a_transaction_from_a_closed_session_is_kept_late(client_for, manager, register):
    now = timezone.now()
    session = services.open_session(
        register=register, opening_float="0", by=None, at=now - dt.timedelta(hours=2)
    )
    services.close_session(session=session, counted="0", by=None, at=now - dt.timedelta(hours=1))
    before_close = (now - dt.timedelta(hours=1, minutes=30)).isoformat()
    response = client_for(manager).post(
        "/api/v1/transactions/",
        {
            "register": register.pk,
            "kind": "sale",
            "payment_method": "cash",
            "amount": "3.00",
            "occurred_at": before_close,
        },
    )
    assert response.status_code == 201
    assert response.json()["late"] is True
    assert response.json()["session"] != session.pk


def test_transactions_list_filters_and_detail(
    client_for, manager, register, make_register, location
):
    other = make_register(location, count_method="total")
    for reg, amount in [(register, "1.00"), (register, "2.00"), (other, "3.00")]:
        services.record_transaction(
            register=reg, kind="sale", payment_method="cash", amount=amount, by=None
        )
    api = client_for(manager)
    everything = api.get("/api/v1/transactions/").json()
    assert everything["count"] == 3
    mine = api.get("/api/v1/transactions/", {"register": register.pk}).json()["results"]
    assert [t["amount"] for t in mine] == ["1.00", "2.00"]
    session = TrackingSession.objects.get(register=other)
    theirs = api.get("/api/v1/transactions/", {"session": session.pk}).json()["results"]
    assert [t["amount"] for t in theirs] == ["3.00"]
    one = api.get(f"/api/v1/transactions/{mine[0]['id']}/")
    assert one.status_code == 200
    assert one.json() == mine[0]


def test_the_sales_by_method_of_a_session_list_are_those_of_each_session(
    client_for, manager, register, make_register, location
):
    other = make_register(location, count_method="total")
    services.record_transaction(
        register=register, kind="sale", payment_method="card", amount="5.00", by=None
    )
    services.record_transaction(
        register=other, kind="sale", payment_method="cash", amount="7.00", by=None
    )
    results = client_for(manager).get("/api/v1/sessions/").json()["results"]
    by_register = {s["register"]: s["sales_by_method"] for s in results}
    assert by_register == {register.pk: {"card": "5.00"}, other.pk: {"cash": "7.00"}}


def test_times_go_out_with_an_offset(client_for, manager, register):
    session = services.open_session(register=register, opening_float="0", by=None)
    opened = client_for(manager).get(f"/api/v1/sessions/{session.pk}/").json()["opened_at"]
    parsed = dt.datetime.fromisoformat(opened)
    assert parsed.tzinfo is not None
    assert parsed == session.opened_at
    assert abs(parsed - timezone.now()) < dt.timedelta(minutes=1)
