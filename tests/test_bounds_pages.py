"""The bounds of issue 8 on the back-office pages and in the admin: the same refusals as the
API, shown beside the field, and nothing stored."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.urls import reverse

from cashdrawer.models import Location, PaymentMethod
from sessions_app import services

pytestmark = pytest.mark.django_db


def _adjust_url(session) -> str:
    return reverse("operations:adjust", args=[session.pk])


def _admin_location_url(location: Location) -> str:
    return reverse("admin:cashdrawer_location_change", args=[location.pk])


@pytest.fixture
def open_session(register, manager):
    return services.open_session(register=register, opening_float="150.00", by=manager)


@pytest.mark.parametrize("amount", ["1e1000000", "4_5.00", "\u0664\u0665", "4 5"])
def test_a_typed_amount_that_is_not_a_number_is_a_form_error(
    client, manager, open_session, db_rows, amount
):
    client.force_login(manager)
    before = db_rows()
    response = client.post(
        _adjust_url(open_session), {"direction": "in", "amount": amount, "reason": "x"}
    )
    assert response.status_code == 400
    assert "not a number" in response.content.decode()
    assert db_rows() == before


def test_a_typed_cash_out_above_the_ceiling_is_a_form_error_naming_it(
    client, manager, open_session, db_rows
):
    client.force_login(manager)
    before = db_rows()
    response = client.post(
        _adjust_url(open_session), {"direction": "out", "amount": "999999999999", "reason": "x"}
    )
    assert response.status_code == 400
    assert "100000.00 EUR" in response.content.decode()
    assert db_rows() == before


@pytest.mark.parametrize("typed", ["1.5e2", "\u0661\u0665\u0660", "+150", "15_0"])
def test_the_default_float_spelled_as_no_amount_is_refused_at_the_close(
    client, manager, open_session, db_rows, typed
):
    """The close form keeps a retained float left at the register's default (150.00); a
    text that is not an amount must not pass as it because Decimal() reads it as 150."""
    client.force_login(manager)
    before = db_rows()
    response = client.post(
        reverse("operations:close", args=[open_session.pk]),
        {"method": "total", "counted": "150.00", "retained_float": typed},
    )
    assert response.status_code == 400
    assert "not a number" in response.content.decode()
    assert db_rows() == before


@pytest.mark.parametrize("typed", ["\u0663", "\uff13", "1_0", "3.0", "+3", "3e0"])
def test_a_quantity_typed_with_other_characters_than_digits_is_refused(
    client, manager, counted_register, db_rows, typed
):
    """int() reads these as 3 or 10; a count grid takes ASCII digits only, as amounts do."""
    client.force_login(manager)
    before = db_rows()
    response = client.post(
        reverse("operations:open", args=[counted_register.pk]), {"count_50.00": typed}
    )
    assert response.status_code == 400
    assert "A whole number, please." in response.content.decode()
    assert db_rows() == before


def test_a_cash_out_of_more_than_the_drawer_holds_is_refused_on_the_page(
    client, manager, open_session, db_rows
):
    client.force_login(manager)
    before = db_rows()
    response = client.post(
        _adjust_url(open_session), {"direction": "out", "amount": "5000.00", "reason": "bank"}
    )
    assert response.status_code == 409
    assert "The drawer holds 150.00" in response.content.decode()
    assert db_rows() == before


def test_every_page_of_the_store_answers_after_the_largest_accepted_amounts(
    client, manager, register, location
):
    """At the ceiling everywhere, the pages, lists and files still show."""
    session = services.open_session(register=register, opening_float="100000.00", by=manager)
    for _ in range(3):
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount="100000.00", by=manager
        )
    services.adjust_float(
        session=session, direction="out", amount="100000.00", reason="bank", by=manager
    )
    services.close_session(session=session, retained_float="100000.00", by=manager)
    client.force_login(manager)
    query = f"location={location.pk}&from=2026-01-01&to=2026-12-31"
    for url in [
        "/registers/",
        f"/overview/?location={location.pk}",
        f"/sessions/{session.pk}/",
        f"/api/v1/sessions/?register={register.pk}",
        f"/api/v1/reports/sessions.csv?{query}",
        f"/api/v1/reports/journal.csv?{query}&dialect=excel-eu",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        if response.streaming:
            b"".join(response.streaming_content)


# --- the admin: ceilings and payment methods ----------------------------------------------


def _location_form(location: Location, methods: list[tuple[int | None, str, bool]], **fields):
    """The admin form of a location with its payment-method rows (id, name, delete)."""
    data = {
        "name": location.name,
        "currency": location.currency,
        "timezone": location.timezone,
        "max_amount": str(location.max_amount),
        "discrepancy_threshold": str(location.discrepancy_threshold),
        "_save": "Save",
        **fields,
    }
    initial = [m for m in methods if m[0] is not None]
    data |= {
        "payment_methods-TOTAL_FORMS": str(len(methods)),
        "payment_methods-INITIAL_FORMS": str(len(initial)),
    }
    for index, (pk, name, delete) in enumerate(methods):
        data[f"payment_methods-{index}-id"] = str(pk or "")
        data[f"payment_methods-{index}-location"] = str(location.pk)
        data[f"payment_methods-{index}-name"] = name
        if delete:
            data[f"payment_methods-{index}-DELETE"] = "on"
    for prefix in ["registers", "memberships"]:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    return data


def _rows(location: Location) -> list[tuple[int | None, str, bool]]:
    return [(m.pk, m.name, False) for m in location.payment_methods.order_by("name")]


def test_an_administrator_adds_a_method_in_its_canonical_form(admin_client, location):
    data = _location_form(location, [*_rows(location), (None, " Gift\u200b CARD ", False)])
    response = admin_client.post(_admin_location_url(location), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    names = sorted(location.payment_methods.values_list("name", flat=True))
    assert names == ["card", "cash", "gift card"]


def test_a_method_added_twice_in_another_case_is_a_form_error(admin_client, location):
    data = _location_form(location, [*_rows(location), (None, "CARD", False)])
    response = admin_client.post(_admin_location_url(location), data)
    assert response.status_code == 200
    assert PaymentMethod.objects.filter(location=location).count() == 2


def test_cash_cannot_be_removed_from_a_location(admin_client, location):
    rows = [(pk, name, name == "cash") for pk, name, _ in _rows(location)]
    response = admin_client.post(_admin_location_url(location), _location_form(location, rows))
    assert response.status_code == 200
    assert "Keep cash" in response.content.decode()
    assert location.payment_methods.filter(name="cash").exists()


def test_the_ceiling_is_set_in_the_admin_within_its_range(admin_client, location):
    url = _admin_location_url(location)
    response = admin_client.post(url, _location_form(location, _rows(location), max_amount="500"))
    assert response.status_code == 302
    location.refresh_from_db()
    assert location.max_amount == D("500.00")
    too_high = _location_form(location, _rows(location), max_amount="99999999999")
    assert admin_client.post(url, too_high).status_code == 200
    location.refresh_from_db()
    assert location.max_amount == D("500.00")


def test_a_new_location_with_a_default_method_in_its_rows_is_saved_once(admin_client, db):
    data = {
        "name": "Graz",
        "currency": "EUR",
        "timezone": "Europe/Vienna",
        "max_amount": "100000.00",
        "discrepancy_threshold": "10.00",
        "_save": "Save",
        "payment_methods-TOTAL_FORMS": "2",
        "payment_methods-INITIAL_FORMS": "0",
        "payment_methods-0-name": "Card",
        "payment_methods-1-name": "voucher",
    }
    for prefix in ["registers", "memberships"]:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = admin_client.post(reverse("admin:cashdrawer_location_add"), data)
    assert response.status_code == 302
    graz = Location.objects.get(name="Graz")
    assert sorted(graz.payment_methods.values_list("name", flat=True)) == [
        "card",
        "cash",
        "voucher",
    ]


def test_a_default_float_above_the_ceiling_is_refused(location, make_register):
    from django.core.exceptions import ValidationError

    Location.objects.filter(pk=location.pk).update(max_amount=D("100.00"))
    location.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        make_register(location, default_float=D("150.00"), count_method="total")
    assert "default_float" in refused.value.message_dict
