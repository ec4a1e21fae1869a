"""The Django admin: reference data is editable, records of money are read-only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cashdrawer.models import AuditEntry, Denomination, Location, Membership, Register
from sessions_app import services
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)

AMS = ZoneInfo("Europe/Amsterdam")


def at(hour: int, minute: int = 0, *, day: int = 2) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=AMS)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def history(register, main_register, sub_a, manager):
    """The worked example on R (closed, corrected, then a late sale), and a shared closing."""
    worked = services.open_session(register=register, opening_float="150.00", by=manager, at=at(8))
    for amount, method, kind, external_id in [
        ("45.50", "cash", "sale", "pos-1"),
        ("20.00", "cash", "sale", "pos-2"),
        ("5.50", "cash", "refund", "pos-3"),
        ("80.00", "card", "sale", "pos-4"),
    ]:
        services.record_transaction(
            register=register,
            kind=kind,
            payment_method=method,
            amount=amount,
            external_id=external_id,
            occurred_at=at(10),
            received_at=at(10),
        )
    services.adjust_float(
        session=worked, direction="out", amount="10.00", reason="drawer over limit", by=manager,
        at=at(11),
    )  # fmt: skip
    services.adjust_float(
        session=worked, direction="in", amount="2.00", reason="own money for change", by=manager,
        at=at(12),
    )  # fmt: skip
    worked = services.close_session(
        session=worked, counted="200.00", retained_float="150.00", by=manager, at=at(20)
    )
    services.add_correction(
        session=worked, amount="2.00", reason="two euro coin found under the tray", by=manager,
        at=at(8, day=3),
    )  # fmt: skip
    late = services.record_transaction(
        register=register,
        kind="sale",
        payment_method="card",
        amount="12.00",
        external_id="pos-late",
        occurred_at=at(19, 50),
        received_at=at(9, day=3),
    ).transaction

    main = services.open_session(
        register=main_register, opening_counts=[("50.00", 2)], by=manager, at=at(8)
    )
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager, at=at(9))
    for register, amount in ((sub_a, "30.00"), (main_register, "40.00")):
        services.record_transaction(
            register=register,
            kind="sale",
            payment_method="cash",
            amount=amount,
            occurred_at=at(10),
            received_at=at(10),
        )
    sub = services.close_session(session=sub, by=manager, at=at(19))
    main = services.close_session(
        session=main,
        counts=[("50.00", 3), ("20.00", 1)],
        retained_float="100.00",
        by=manager,
        at=at(20),
    )
    return {"worked": worked, "late": late, "next": late.session, "main": main, "sub": sub}


READ_ONLY_MODELS = [
    TrackingSession,
    Transaction,
    Adjustment,
    CountLine,
    ClosingTransfer,
    Correction,
    AuditEntry,
]
EDITABLE_MODELS = [Location, Register, Membership, Denomination, get_user_model()]


# --- every page opens -------------------------------------------------------------------


@pytest.mark.parametrize("model", READ_ONLY_MODELS + EDITABLE_MODELS, ids=lambda m: m.__name__)
def test_a_superuser_sees_the_list_and_a_change_page_of_every_model(admin_client, history, model):
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    obj = model.objects.order_by("pk").first()
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200


def test_the_admin_index_lists_the_cash_tracking_models(admin_client, history):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for model in READ_ONLY_MODELS + EDITABLE_MODELS:
        assert admin_url(model, "changelist") in response.content.decode()


# --- records of money are read-only -----------------------------------------------------


@pytest.mark.parametrize("model", READ_ONLY_MODELS, ids=lambda m: m.__name__)
def test_records_of_money_cannot_be_added_or_deleted_in_the_admin(admin_client, history, model):
    obj = model.objects.order_by("pk").first()
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.get(admin_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("which", ["worked", "next"])
def test_posting_a_change_to_a_session_is_refused_and_changes_nothing(admin_client, history, which):
    session = history[which]
    before = TrackingSession.objects.filter(pk=session.pk).values().get()
    response = admin_client.post(
        admin_url(TrackingSession, "change", session.pk),
        {
            "status": "open",
            "opening_float": "0.00",
            "counted_cash": "999.00",
            "closing_note": "edited in the admin",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    assert TrackingSession.objects.filter(pk=session.pk).values().get() == before


def test_a_session_page_has_no_save_or_delete_button(admin_client, history):
    response = admin_client.get(admin_url(TrackingSession, "change", history["worked"].pk))
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert admin_url(TrackingSession, "delete", history["worked"].pk) not in content


def test_the_changelist_offers_no_bulk_delete(admin_client, history):
    response = admin_client.get(admin_url(TrackingSession, "changelist"))
    assert "delete_selected" not in response.content.decode()


# --- what the session page shows --------------------------------------------------------


def test_the_session_page_shows_the_figures_of_the_worked_example(admin_client, history):
    response = admin_client.get(admin_url(TrackingSession, "change", history["worked"].pk))
    assert response.status_code == 200
    content = response.content.decode()
    for figure in ["150.00", "202.00", "200.00", "-2.00", "50.00", "145.50", "5.50", "65.50"]:
        assert figure in content, figure
    assert "card: 80.00" in content
    # The inlines: its transactions, adjustments and its correction.
    for text in ["pos-1", "pos-4", "drawer over limit", "own money for change", "two euro coin"]:
        assert text in content, text
    assert "2026-03-02 08:00 CET" in content  # times in the store's own time zone


def test_the_main_session_page_shows_counts_transfers_and_sub_sessions(admin_client, history):
    response = admin_client.get(admin_url(TrackingSession, "change", history["main"].pk))
    content = response.content.decode()
    assert "170.00" in content  # expected = 100 float + 40 own + 30 from Sub A = counted
    assert "30.00" in content  # the transfer from the sub session
    assert "Sub A" in content
    assert "transfers from sub-registers" in content.lower()
    assert "counts (opening and closing)" in content.lower()


def test_a_sub_session_is_shown_as_counted_at_its_main_register(admin_client, history):
    response = admin_client.get(admin_url(TrackingSession, "change", history["sub"].pk))
    content = response.content.decode()
    assert "counted at the main register" in content
    assert "transfer to the main register" in content.lower()


def test_money_stays_a_plain_decimal_in_every_language(admin_client, history):
    response = admin_client.get(
        admin_url(TrackingSession, "change", history["worked"].pk), HTTP_ACCEPT_LANGUAGE="de"
    )
    content = response.content.decode()
    assert "202.00" in content
    assert "202,00" not in content


def test_an_uncounted_close_is_shown_as_not_counted(admin_client, register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, by=manager)
    response = admin_client.get(admin_url(TrackingSession, "changelist"))
    assert "not counted" in response.content.decode()


# --- search and filters -----------------------------------------------------------------


def result_count(response) -> int:
    assert response.status_code == 200
    return response.context["cl"].result_count


def test_sessions_are_found_by_register_name_code_and_location(admin_client, history):
    url = admin_url(TrackingSession, "changelist")
    assert result_count(admin_client.get(url, {"q": "Main C"})) == 1
    assert result_count(admin_client.get(url, {"q": "a"})) >= 1
    assert result_count(admin_client.get(url, {"q": "Amsterdam"})) == 4
    assert result_count(admin_client.get(url, {"q": "Nowhere"})) == 0


def test_sessions_are_filtered_by_status_location_and_how_they_opened(
    admin_client, history, other_location
):
    url = admin_url(TrackingSession, "changelist")
    assert result_count(admin_client.get(url, {"status__exact": "open"})) == 1
    assert result_count(admin_client.get(url, {"opened_automatically__exact": "1"})) == 1
    assert result_count(admin_client.get(url, {"location__id__exact": other_location.pk})) == 0


def test_transactions_are_found_by_external_id_and_filtered_by_late_and_method(
    admin_client, history
):
    url = admin_url(Transaction, "changelist")
    assert result_count(admin_client.get(url, {"q": "pos-late"})) == 1
    assert result_count(admin_client.get(url, {"late__exact": "1"})) == 1
    assert result_count(admin_client.get(url, {"payment_method": "card"})) == 2
    assert result_count(admin_client.get(url, {"q": "R"})) >= 5


def test_adjustments_and_corrections_are_found_by_reason(admin_client, history):
    assert result_count(admin_client.get(admin_url(Adjustment, "changelist"), {"q": "limit"})) == 1
    assert result_count(admin_client.get(admin_url(Correction, "changelist"), {"q": "coin"})) == 1


def test_the_audit_log_is_found_by_action(admin_client, history):
    response = admin_client.get(admin_url(AuditEntry, "changelist"), {"q": "session.close"})
    assert result_count(response) == 3


@pytest.mark.parametrize(
    "model", [TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction]
)
def test_changelists_do_not_query_once_per_row(
    admin_client, history, register, main_register, sub_a, manager, cashier, model
):
    url = admin_url(model, "changelist")
    admin_client.get(url)  # warm up: content types, session, permissions
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    main = services.open_session(
        register=main_register, opening_counts=[("20.00", 5)], by=cashier, at=at(8, day=3)
    )
    sub = services.open_session(register=sub_a, opening_float="0", by=cashier, at=at(9, day=3))
    services.close_session(session=sub, by=cashier, at=at(18, day=3))
    services.close_session(session=main, counts=[("20.00", 5)], by=cashier, at=at(19, day=3))
    session = history["next"]
    for n in range(3):
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount="1.00"
        )
        services.adjust_float(
            session=session, direction="in", amount="1.00", reason=f"change {n}", by=manager
        )
    closed = services.close_session(session=session, counts=None, counted="500.00", by=manager)
    services.add_correction(session=closed, amount="-1.00", reason="recount", by=manager)
    with CaptureQueriesContext(connection) as more:
        admin_client.get(url)
    assert len(more.captured_queries) <= len(few.captured_queries)


# --- registers: the role rules beside their fields --------------------------------------


def register_form(location, **fields) -> dict:
    data = {
        "location": location.pk,
        "name": "New",
        "code": "new",
        "role": "standalone",
        "main_register": "",
        "count_method": "denominations",
        "default_float": "",
        "cash_tracking": "on",
        "_save": "Save",
    }
    data.update({k: ("" if v is None else v) for k, v in fields.items()})
    return data


@pytest.mark.parametrize(
    "case, field, message",
    [
        ("sub_with_float", "default_float", "A sub-register has no default float"),
        ("sub_without_main", "main_register", "A sub-register needs a main register."),
        ("main_by_total", "count_method", "A main register must count by denominations."),
        ("main_elsewhere", "main_register", "The main register must be at the same location."),
    ],
)
def test_the_register_form_shows_role_errors_beside_the_field(
    admin_client, location, other_location, main_register, make_register, case, field, message
):
    elsewhere = make_register(other_location, name="Main V", code="v", role="main")
    data = {
        "sub_with_float": register_form(
            location, role="sub", main_register=main_register.pk, default_float="50.00"
        ),
        "sub_without_main": register_form(location, role="sub"),
        "main_by_total": register_form(location, role="main", count_method="total"),
        "main_elsewhere": register_form(location, role="sub", main_register=elsewhere.pk),
    }[case]
    count = Register.objects.count()
    response = admin_client.post(admin_url(Register, "add"), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert any(message in error for error in form.errors[field])
    assert message in response.content.decode()
    assert not form.non_field_errors()  # no second, database-worded copy of the rule
    assert Register.objects.count() == count


def test_a_valid_sub_register_is_saved(admin_client, location, main_register):
    data = register_form(location, role="sub", main_register=main_register.pk, code="sub-x")
    response = admin_client.post(admin_url(Register, "add"), data)
    assert response.status_code == 302
    assert Register.objects.get(code="sub-x").main_register == main_register


def test_editing_a_register_checks_the_rules_too(admin_client, main_register, sub_a):
    data = register_form(
        sub_a.location, name=sub_a.name, code=sub_a.code, role="sub",
        main_register=main_register.pk, default_float="10.00",
    )  # fmt: skip
    response = admin_client.post(admin_url(Register, "change", sub_a.pk), data)
    assert response.status_code == 200
    sub_a.refresh_from_db()
    assert sub_a.default_float is None


def test_only_main_registers_can_be_chosen_as_main(
    admin_client, register, main_register, sub_a, other_location, make_register
):
    elsewhere = make_register(other_location, name="Main V", code="v", role="main")
    response = admin_client.get(admin_url(Register, "add"))
    choices = set(response.context["adminform"].form.fields["main_register"].queryset)
    assert choices == {main_register, elsewhere}


def test_a_register_with_an_open_session_cannot_move_to_another_location(
    admin_client, register, other_location, manager
):
    services.open_session(register=register, opening_float="150.00", by=manager)
    data = register_form(
        other_location, name="R", code="r", count_method="total", default_float="150.00"
    )
    response = admin_client.post(admin_url(Register, "change", register.pk), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["location"]
    register.refresh_from_db()
    assert register.location_id != other_location.pk


def test_a_location_with_sessions_keeps_its_currency(admin_client, location, register, manager):
    services.open_session(register=register, opening_float="150.00", by=manager)
    data = {
        "name": location.name,
        "currency": "USD",
        "timezone": location.timezone,
        "_save": "Save",
    }
    for prefix in ["registers", "memberships"]:
        data |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    response = admin_client.post(admin_url(Location, "change", location.pk), data)
    assert response.status_code == 200
    assert "its currency can no longer change" in str(response.context["adminform"].form.errors)
    location.refresh_from_db()
    assert location.currency == "EUR"


def test_the_register_list_shows_floats_as_plain_decimals(admin_client, register):
    response = admin_client.get(admin_url(Register, "changelist"), HTTP_ACCEPT_LANGUAGE="de")
    assert "150.00" in response.content.decode()


def test_registers_are_filtered_by_role_and_found_by_code(admin_client, register, sub_a):
    url = admin_url(Register, "changelist")
    assert result_count(admin_client.get(url, {"role__exact": "sub"})) == 1
    assert result_count(admin_client.get(url, {"q": "r"})) >= 1
    assert result_count(admin_client.get(url, {"q": "zzz"})) == 0


# --- locations, memberships, denominations ----------------------------------------------


def test_the_location_list_shows_how_many_registers_each_has(
    admin_client, location, register, main_register, sub_a
):
    response = admin_client.get(admin_url(Location, "changelist"))
    assert response.context["cl"].result_list[0].register_count == 3


def test_memberships_are_listed_with_user_location_and_role(admin_client, manager, cashier):
    response = admin_client.get(admin_url(Membership, "changelist"), {"role__exact": "cashier"})
    assert result_count(response) == 1
    assert "carl" in response.content.decode()


def test_a_location_page_lists_its_staff(admin_client, location, manager):
    response = admin_client.get(admin_url(Location, "change", location.pk))
    assert "maria" in response.content.decode()


def test_an_administrator_can_edit_a_denomination(admin_client, db):
    denomination = Denomination.objects.get(currency="EUR", value=Decimal("500.00"))
    response = admin_client.post(
        admin_url(Denomination, "change", denomination.pk),
        {"currency": "EUR", "value": "500.00", "kind": "coin", "_save": "Save"},
    )
    assert response.status_code == 302
    denomination.refresh_from_db()
    assert denomination.kind == "coin"


def test_denominations_are_filtered_by_currency(admin_client, db):
    response = admin_client.get(admin_url(Denomination, "changelist"), {"currency__exact": "EUR"})
    assert result_count(response) == 15
