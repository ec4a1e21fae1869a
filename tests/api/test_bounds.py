"""Bounds on every input (issue 8, DOMAIN.md "Money"): a ceiling per amount, no figure past
its column, times near the server's clock, the location's payment methods, ids as JSON
integers, and no cash out of an empty drawer. Over a bound: 4xx, no row changed; within it,
every page and file of the store still answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from cashdrawer.models import Location, PaymentMethod
from cashdrawer.money import FIGURE_LIMIT
from sessions_app import services
from sessions_app.exceptions import InvalidInput, LimitExceeded
from sessions_app.models import TrackingSession, Transaction

pytestmark = pytest.mark.django_db

D = Decimal


def _sale(register, /, **changes) -> dict:
    return {
        "register": register.pk,
        "kind": "sale",
        "payment_method": "cash",
        "amount": "1.00",
        **changes,
    }


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()


# --- the ceiling of one amount ------------------------------------------------------------


def test_a_sale_above_the_locations_ceiling_is_refused_naming_the_ceiling(
    client_for, manager, register, db_rows
):
    client = client_for(manager)
    before = db_rows()
    response = client.post("/api/v1/transactions/", _sale(register, amount="100000.01"))
    assert response.status_code == 400
    assert "100000.00 EUR" in response.json()["amount"][0]
    assert db_rows() == before


def test_a_sale_at_the_ceiling_is_accepted(client_for, manager, register):
    response = client_for(manager).post(
        "/api/v1/transactions/", _sale(register, amount="100000.00")
    )
    assert response.status_code == 201, response.json()


def test_the_ceiling_is_the_locations_own(client_for, manager, register):
    Location.objects.filter(pk=register.location_id).update(max_amount=D("500.00"))
    client = client_for(manager)
    assert client.post("/api/v1/transactions/", _sale(register, amount="500.01")).status_code == 400
    assert client.post("/api/v1/transactions/", _sale(register, amount="500.00")).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("adjustments", {"direction": "out", "amount": "999999999999", "reason": "x"}, "amount"),
        ("adjustments", {"direction": "in", "amount": "100000.01", "reason": "x"}, "amount"),
        ("close", {"counted_cash": "150.00", "retained_float": "100000.01"}, "retained_float"),
    ],
)
def test_every_amount_entered_on_a_session_has_the_ceiling(
    client_for, manager, register, db_rows, path, body, field
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    client = client_for(manager)
    before = db_rows()
    response = client.post(f"/api/v1/sessions/{session.pk}/{path}/", body)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert db_rows() == before


def test_an_opening_float_above_the_ceiling_is_refused_as_a_total_and_as_a_count(
    client_for, manager, register, counted_register
):
    client = client_for(manager)
    too_much = {"register": register.pk, "opening_float": "999999999999.99"}
    assert client.post("/api/v1/sessions/", too_much).status_code == 400
    counts = [{"value": "500.00", "quantity": 201}]  # 100,500.00
    response = client.post(
        "/api/v1/sessions/", {"register": counted_register.pk, "opening_counts": counts}
    )
    assert response.status_code == 400
    assert "opening_counts" in response.json()
    assert not TrackingSession.objects.exists()


def test_a_count_of_the_whole_drawer_may_pass_the_ceiling_of_one_amount(manager, counted_register):
    """A drawer at close holds many entries: its count is bounded by the figures' limit."""
    session = services.open_session(register=counted_register, opening_float="0.00", by=manager)
    closed = services.close_session(
        session=session, counts=[{"value": "500.00", "quantity": 400}], by=manager
    )
    assert closed.counted_cash == D("200000.00")
    assert closed.end_discrepancy == D("200000.00")


@pytest.mark.parametrize(
    "amount",
    ["1e1000000", "1E3", "4_5.00", "4 5.00", "\u0664\u0665", "4\u00a05", "+5", "0x10", "١٢"],
)
def test_amounts_with_exponents_underscores_spaces_or_other_digits_are_not_numbers(
    client_for, manager, register, amount
):
    response = client_for(manager).post("/api/v1/transactions/", _sale(register, amount=amount))
    assert response.status_code == 400
    assert "not a number" in response.json()["amount"][0]
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("number", ["1e1000000", "1E3", "4.5e1", "1e-1000000"])
def test_a_json_number_with_an_exponent_is_not_an_amount(client_for, manager, register, number):
    body = (
        f'{{"register": {register.pk}, "kind": "sale", "payment_method": "cash", '
        f'"amount": {number}}}'
    )
    response = client_for(manager).post(
        "/api/v1/transactions/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "not a number" in response.json()["amount"][0]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("close", {"counted_cash": "1e1000000"}, "counted_cash"),
        ("close", {"counted_cash": "150.00", "retained_float": "1e1000000"}, "retained_float"),
        ("adjustments", {"direction": "in", "amount": "1e1000000", "reason": "x"}, "amount"),
    ],
)
def test_an_exponent_anywhere_on_a_session_is_400(client_for, manager, register, path, body, field):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    response = client_for(manager).post(f"/api/v1/sessions/{session.pk}/{path}/", body)
    assert response.status_code == 400
    assert field in response.json()


def test_a_count_value_with_an_exponent_is_400(client_for, manager, counted_register):
    counts = [{"value": "1e1000000", "quantity": 1}]
    response = client_for(manager).post(
        "/api/v1/sessions/", {"register": counted_register.pk, "opening_counts": counts}
    )
    assert response.status_code == 400
    assert "opening_counts" in response.json()


# --- ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("register_id", ["{pk}", "{pk}.0", "true"])
def test_an_id_is_only_a_json_integer(client_for, manager, register, register_id):
    raw = register_id.format(pk=register.pk)
    if register_id == "{pk}":
        raw = f'"{raw}"'  # the id as a string
    body = f'{{"register": {raw}, "kind": "sale", "payment_method": "cash", "amount": "1.00"}}'
    response = client_for(manager).post(
        "/api/v1/transactions/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "register" in response.json()
    assert not Transaction.objects.exists()


def test_a_registers_location_is_only_a_json_integer(client_for, manager, location):
    body = {"location": str(location.pk), "name": "Till 9", "code": "till-9"}
    response = client_for(manager).post("/api/v1/registers/", body)
    assert response.status_code == 400
    assert "location" in response.json()


# --- figures never pass their columns ------------------------------------------------------


def test_a_sale_that_would_pass_the_figures_limit_is_409_limit_exceeded(
    client_for, manager, register, db_rows
):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    # A session that has taken in almost all a figure holds (e.g. a ceiling raised to the
    # maximum and thousands of sales at it).
    TrackingSession.objects.filter(pk=session.pk).update(
        cash_sales=FIGURE_LIMIT - D("50.00"), total_sales=FIGURE_LIMIT - D("50.00")
    )
    client = client_for(manager)
    before = db_rows()
    response = client.post("/api/v1/transactions/", _sale(register, amount="60.00"))
    assert response.status_code == 409
    assert response.json()["code"] == "limit_exceeded"
    assert db_rows() == before
    # What still fits is accepted.
    response = client_for(manager).post("/api/v1/transactions/", _sale(register, amount="50.00"))
    assert response.status_code == 201


def test_a_card_sale_is_bounded_by_the_total_sales_figure(client_for, manager, register):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    TrackingSession.objects.filter(pk=session.pk).update(total_sales=FIGURE_LIMIT)
    body = _sale(register, payment_method="card", amount="0.01")
    response = client_for(manager).post("/api/v1/transactions/", body)
    assert response.status_code == 409
    assert response.json()["code"] == "limit_exceeded"


def test_a_close_whose_discrepancy_would_pass_the_limit_is_409(manager, register, db_rows):
    session = services.open_session(register=register, opening_float="0.00", by=manager)
    TrackingSession.objects.filter(pk=session.pk).update(adjustments_out=D("5000.00"))
    before = db_rows()
    with pytest.raises(LimitExceeded):
        services.close_session(session=session, counted=FIGURE_LIMIT, by=manager)
    assert db_rows() == before
    assert TrackingSession.objects.get(pk=session.pk).is_open


def test_a_sub_close_that_would_pass_the_main_sessions_figures_is_409(
    manager, main_register, sub_a
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    TrackingSession.objects.filter(pk=main.pk).update(cash_sales=FIGURE_LIMIT - D("1.00"))
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="2.00", by=manager
    )
    with pytest.raises(LimitExceeded):
        services.close_session(session=sub, by=manager)
    assert TrackingSession.objects.get(pk=sub.pk).is_open


# --- times --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    ["9999-12-31T23:30:00Z", "0001-01-01T00:00:00Z", "2000-01-01T00:00:00Z"],
)
def test_far_off_times_are_400_and_store_nothing(
    client_for, manager, register, db_rows, occurred_at
):
    client = client_for(manager)
    before = db_rows()
    response = client.post("/api/v1/transactions/", _sale(register, occurred_at=occurred_at))
    assert response.status_code == 400
    assert "occurred_at" in response.json()
    assert db_rows() == before


def test_a_time_more_than_five_minutes_ahead_is_refused_naming_the_bound(
    client_for, manager, register
):
    client = client_for(manager)
    ahead = timezone.now() + dt.timedelta(minutes=6)
    response = client.post("/api/v1/transactions/", _sale(register, occurred_at=_iso(ahead)))
    assert response.status_code == 400
    assert "5 minutes" in response.json()["occurred_at"][0]
    # A terminal's clock a little ahead is fine.
    slightly = timezone.now() + dt.timedelta(minutes=4)
    response = client.post("/api/v1/transactions/", _sale(register, occurred_at=_iso(slightly)))
    assert response.status_code == 201, response.json()


def test_a_sale_from_weeks_offline_arrives_late_but_not_one_older_than_the_limit(
    client_for, manager, register
):
    client = client_for(manager)
    session = services.open_session(
        register=register,
        opening_float="150.00",
        by=manager,
        at=timezone.now() - dt.timedelta(days=60),
    )
    services.close_session(
        session=session,
        counted="150.00",
        by=manager,
        at=timezone.now() - dt.timedelta(days=59),
    )
    weeks_ago = timezone.now() - dt.timedelta(days=59, hours=12)
    response = client.post("/api/v1/transactions/", _sale(register, occurred_at=_iso(weeks_ago)))
    assert response.status_code == 201, response.json()
    assert response.json()["late"] is True

    too_old = timezone.now() - dt.timedelta(days=91)
    response = client.post("/api/v1/transactions/", _sale(register, occurred_at=_iso(too_old)))
    assert response.status_code == 400
    assert "90 days" in response.json()["occurred_at"][0]


@override_settings(LATE_SALES_LIMIT_DAYS=7)
def test_the_late_limit_is_a_setting(client_for, manager, register):
    eight_days = timezone.now() - dt.timedelta(days=8)
    response = client_for(manager).post(
        "/api/v1/transactions/", _sale(register, occurred_at=_iso(eight_days))
    )
    assert response.status_code == 400
    assert "7 days" in response.json()["occurred_at"][0]


def test_a_repeated_external_id_answers_the_first_sale_even_after_the_limit(
    client_for, manager, register
):
    client = client_for(manager)
    first = client.post("/api/v1/transactions/", _sale(register, external_id="r-1"))
    assert first.status_code == 201
    with override_settings(LATE_SALES_LIMIT_DAYS=1):
        old = timezone.now() - dt.timedelta(days=3)
        again = client.post(
            "/api/v1/transactions/", _sale(register, external_id="r-1", occurred_at=_iso(old))
        )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


# --- payment methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written", ["cash", "CASH", " Cash ", "ca\u200bsh", "\uff43\uff41\uff53\uff48", "c\u00adash"]
)
def test_cash_is_cash_however_it_is_written(client_for, manager, register, written):
    response = client_for(manager).post(
        "/api/v1/transactions/", _sale(register, payment_method=written)
    )
    assert response.status_code == 201, response.json()
    assert response.json()["payment_method"] == "cash"
    assert TrackingSession.objects.get().cash_sales == D("1.00")


def test_an_unknown_payment_method_is_400_listing_the_known_ones(
    client_for, manager, register, db_rows
):
    client = client_for(manager)
    before = db_rows()
    response = client.post("/api/v1/transactions/", _sale(register, payment_method="bitcoin"))
    assert response.status_code == 400
    message = response.json()["payment_method"][0]
    assert "bitcoin" in message
    assert "card, cash" in message
    assert db_rows() == before


def test_a_method_the_location_adds_is_accepted_there_only(
    client_for, manager, register, other_location, make_register
):
    PaymentMethod.objects.create(location=register.location, name="Voucher")
    response = client_for(manager).post(
        "/api/v1/transactions/", _sale(register, payment_method="VOUCHER", amount="4.00")
    )
    assert response.status_code == 201
    assert response.json()["payment_method"] == "voucher"
    elsewhere = make_register(other_location, name="V", code="v")
    with pytest.raises(InvalidInput):
        services.record_transaction(
            register=elsewhere, kind="sale", payment_method="voucher", amount="1.00", by=manager
        )


def test_every_new_location_takes_cash_and_card(db):
    location = Location.objects.create(name="Graz", currency="EUR", timezone="Europe/Vienna")
    assert sorted(location.payment_methods.values_list("name", flat=True)) == ["card", "cash"]


def test_the_location_lists_its_methods_and_ceiling_in_the_api(client_for, manager, location):
    PaymentMethod.objects.create(location=location, name="voucher")
    body = client_for(manager).get(f"/api/v1/locations/{location.pk}/").json()
    assert body["payment_methods"] == ["card", "cash", "voucher"]
    assert body["max_amount"] == "100000.00"


# --- cash out of the drawer -------------------------------------------------------------------


def test_a_cash_out_larger_than_the_drawer_is_409_insufficient_cash(
    client_for, manager, register, db_rows
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="61.60", by=manager
    )
    client = client_for(manager)
    before = db_rows()
    response = client.post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "out", "amount": "5000.00", "reason": "bank"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_cash"
    assert "211.60" in response.json()["detail"]
    assert db_rows() == before
    # All of it may go.
    response = client_for(manager).post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "out", "amount": "211.60", "reason": "bank"},
    )
    assert response.status_code == 201


def test_a_cashier_is_refused_an_empty_drawer_when_the_session_is_not_blind(
    client_for, cashier, manager, register
):
    session = services.open_session(register=register, opening_float="10.00", by=manager)
    response = client_for(cashier).post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "out", "amount": "10.01", "reason": "bank"},
    )
    assert response.json()["code"] == "insufficient_cash"


def test_on_a_blind_session_a_cashier_cannot_probe_the_expected_cash(
    client_for, device_client_for, cashier, manager, register
):
    """A refusal would tell the cashier how much is in the drawer, so it is booked; the
    shortage shows at the close. A manager, who sees the figure anyway, is refused."""
    register.blind_close = True
    register.save()
    session = services.open_session(register=register, opening_float="10.00", by=manager)
    body = {"direction": "out", "amount": "50.00", "reason": "bank"}
    url = f"/api/v1/sessions/{session.pk}/adjustments/"
    assert client_for(manager).post(url, body).json()["code"] == "insufficient_cash"
    assert client_for(cashier).post(url, body).status_code == 201
    assert device_client_for(register).post(url, body).status_code == 201
    closed = services.close_session(session=session, counted="0.00", by=manager)
    assert closed.expected_cash == D("-90.00")
    assert closed.end_discrepancy == D("90.00")
