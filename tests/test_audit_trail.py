"""The audit trail (issue 9, item 7): logins, failed logins and logouts through every door;
the admin's changes of configuration with their old and new values; device tokens; the
database refusing to change an entry; a session's trail on its page; the admin's
read-only list with its filters and its CSV file."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.forms import SplitDateTimeWidget
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from cashdrawer.audit import client_address
from cashdrawer.models import (
    ApiToken,
    AuditEntry,
    Denomination,
    Location,
    Membership,
    Register,
)
from sessions_app import services

User = get_user_model()
TOKEN_URL = "/api/v1/auth/token/"


def entries(action: str | None = None, **filters: Any) -> list[AuditEntry]:
    queryset = AuditEntry.objects.order_by("id")
    if action is not None:
        queryset = queryset.filter(action=action)
    return list(queryset.filter(**filters))


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def every_data() -> str:
    return json.dumps(list(AuditEntry.objects.values_list("data", flat=True)))


# --- logins, failed logins and logouts ---------------------------------------------------


def test_a_browser_login_a_failed_login_and_a_logout_are_audited(manager):
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.post("/login/", {"username": "maria", "password": "wrong"})
    client.post("/login/", {"username": "maria", "password": "s3cret-pass"})
    client.post("/logout/")

    failed, login, logout = entries()
    assert (failed.action, failed.user, failed.address) == ("login_failed", None, "192.0.2.10")
    assert failed.data == {"via": "browser", "username": "maria"}
    # Nobody proved who they are; the account tried is the entry's object.
    assert (failed.object_type, failed.object_id) == ("auth.user", str(manager.pk))
    assert (login.action, login.user, login.address, login.data) == (
        "login",
        manager,
        "192.0.2.10",
        {"via": "browser"},
    )
    assert (logout.action, logout.user, logout.data) == ("logout", manager, {"via": "browser"})
    assert "wrong" not in every_data()


def test_a_failed_login_of_an_unknown_username_keeps_the_name_tried(db):
    Client().post("/login/", {"username": "mallory", "password": "guess"})
    [failed] = entries("login_failed")
    assert failed.data == {"via": "browser", "username": "mallory"}
    assert (failed.user, failed.object_id, failed.location) == (None, "", None)


def test_an_admin_login_a_failed_login_and_a_logout_are_audited(admin_user):
    client = Client()
    client.post(reverse("admin:login"), {"username": "admin", "password": "nope"})
    client.post(reverse("admin:login"), {"username": "admin", "password": "password"})
    client.post(reverse("admin:logout"))
    assert [(e.action, e.user, e.data) for e in entries()] == [
        ("login_failed", None, {"via": "admin", "username": "admin"}),
        ("login", admin_user, {"via": "admin"}),
        ("logout", admin_user, {"via": "admin"}),
    ]


def test_a_right_password_of_a_non_staff_account_is_a_failed_admin_login(cashier):
    response = Client().post(
        reverse("admin:login"), {"username": "carl", "password": "s3cret-pass"}
    )
    assert response.status_code == 200  # the form again, with its error
    [failed] = entries()
    assert (failed.action, failed.user, failed.object_id) == ("login_failed", None, str(cashier.pk))
    assert failed.data == {"via": "admin", "username": "carl", "reason": "not staff"}


@pytest.mark.parametrize("key", [None, "k-1"], ids=["without-key", "with-key"])
def test_the_token_endpoint_audits_a_failed_login_although_it_answers_400(manager, key):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = APIClient(REMOTE_ADDR="198.51.100.4").post(
        TOKEN_URL, {"username": "maria", "password": "wrong"}, format="json", **headers
    )
    assert response.status_code == 400
    [failed] = entries()
    assert (failed.action, failed.address) == ("login_failed", "198.51.100.4")
    assert failed.data == {"via": "api", "username": "maria"}


def test_the_token_endpoint_audits_a_login_and_its_logout(manager):
    api = APIClient(REMOTE_ADDR="198.51.100.4")
    response = api.post(TOKEN_URL, {"username": "maria", "password": "s3cret-pass"}, format="json")
    assert response.status_code == 201
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.delete(TOKEN_URL).status_code == 204

    assert [(e.action, e.user, e.data.get("via")) for e in entries()] == [
        ("login", manager, "api"),
        ("api_token.issue", manager, None),
        ("api_token.revoke", manager, None),
        ("logout", manager, "api"),
    ]
    assert {e.address for e in entries(action__in=["login", "logout"])} == {"198.51.100.4"}


def test_an_inactive_users_token_request_is_a_failed_login(manager):
    manager.is_active = False
    manager.save()
    response = APIClient().post(
        TOKEN_URL, {"username": "maria", "password": "s3cret-pass"}, format="json"
    )
    assert response.status_code == 400
    assert [e.action for e in entries()] == ["login_failed"]


@pytest.mark.parametrize(
    ("remote", "forwarded", "address"),
    [
        ("192.0.2.1", "", "192.0.2.1"),
        # An untrusted peer cannot name another client.
        ("192.0.2.1", "203.0.113.5", "192.0.2.1"),
        # Behind the local proxy: the address the proxy appended.
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
        # A client's own X-Forwarded-For comes first; the proxy's entry is the last.
        ("127.0.0.1", "10.9.9.9, 203.0.113.5", "203.0.113.5"),
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "not an address", "127.0.0.1"),
    ],
)
def test_the_address_is_the_client_behind_a_trusted_proxy(remote, forwarded, address):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == address


# --- the admin: configuration, old and new values ---------------------------------------


def form_data(response) -> dict[str, Any]:
    """What the browser would post back from an admin add or change page, unchanged."""
    data: dict[str, Any] = {"_save": "Save"}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            key = form.add_prefix(name)
            value = form[name].value()
            if isinstance(field.widget, SplitDateTimeWidget):
                value = value or None
                data[f"{key}_0"] = value.date().isoformat() if value else ""
                data[f"{key}_1"] = value.time().isoformat() if value else ""
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, (list, tuple)):
                data[key] = [str(item) for item in value]
            else:
                data[key] = "" if value is None else str(value)
    return data


def test_a_register_changed_in_the_admin_is_audited_with_old_and_new_values(admin_client, register):
    url = admin_url(Register, "change", register.pk)
    data = form_data(admin_client.get(url))
    data |= {"default_float": "120.00", "name": "Till 1"}
    assert admin_client.post(url, data, REMOTE_ADDR="192.0.2.7").status_code == 302

    [entry] = entries("register.update")
    assert entry.data == {
        "via": "admin",
        "changes": {
            "default_float": {"old": "150.00", "new": "120.00"},
            "name": {"old": "R", "new": "Till 1"},
        },
    }
    assert (entry.object_id, entry.location, entry.address) == (
        str(register.pk),
        register.location,
        "192.0.2.7",
    )


def test_a_register_changed_through_the_api_is_audited_with_old_and_new_values(manager, register):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.patch(
        f"/api/v1/registers/{register.pk}/",
        {"name": "Till 1", "blind_close": False, "default_float": "150.00"},
        format="json",
    )
    assert response.status_code == 200
    [entry] = entries("register.update")
    # Fields sent with the value they had are no change.
    assert entry.data == {"via": "api", "changes": {"name": {"old": "R", "new": "Till 1"}}}
    assert entry.location == register.location


def test_a_form_saved_unchanged_writes_no_entry(admin_client, register):
    url = admin_url(Register, "change", register.pk)
    before = AuditEntry.objects.count()
    assert admin_client.post(url, form_data(admin_client.get(url))).status_code == 302
    assert AuditEntry.objects.count() == before


def test_a_location_added_in_the_admin_with_methods_and_staff_is_audited(admin_client, cashier):
    data = form_data(admin_client.get(admin_url(Location, "add")))
    data |= {"name": "Utrecht", "currency": "EUR", "timezone": "Europe/Amsterdam"}
    data |= {
        "payment_methods-TOTAL_FORMS": "2",
        "payment_methods-0-name": "cash",  # there already: a new location takes cash
        "payment_methods-1-name": "Voucher",
        "memberships-TOTAL_FORMS": "1",
        "memberships-0-user": str(cashier.pk),
        "memberships-0-role": "manager",
        "memberships-0-receives_alerts": "on",
        "memberships-0-alert_mail": "immediate",
    }
    response = admin_client.post(admin_url(Location, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    utrecht = Location.objects.get(name="Utrecht")

    [created] = entries("location.create")
    assert created.location == utrecht
    assert created.data["values"]["name"] == "Utrecht"
    assert created.data["values"]["max_amount"] == "100000.00"
    [method] = entries("payment_method.create")
    assert (method.data["values"], method.location) == (
        {"location": "Utrecht", "name": "voucher"},
        utrecht,
    )
    [membership] = entries("membership.create")
    assert membership.data["values"] == {
        "user": "carl",
        "location": "Utrecht",
        "role": "manager",
        "receives_alerts": True,
        "alert_mail": "immediate",
    }
    assert membership.location == utrecht


def test_inline_rows_changed_and_deleted_in_the_admin_are_audited(
    admin_client, location, cashier, takes_vouchers
):
    url = admin_url(Location, "change", location.pk)
    data = form_data(admin_client.get(url))
    prefix = {
        m.name: f"payment_methods-{i}"
        for i, m in enumerate(location.payment_methods.order_by("name"))
    }
    data[f"{prefix['voucher']}-DELETE"] = "on"
    data["memberships-0-role"] = "accountant"
    assert admin_client.post(url, data).status_code == 302

    [deleted] = entries("payment_method.delete")
    assert deleted.data["values"] == {"location": "Amsterdam", "name": "voucher"}
    assert deleted.location == location
    [changed] = entries("membership.update")
    assert changed.data["changes"] == {"role": {"old": "cashier", "new": "accountant"}}
    assert entries("location.update") == []  # the location itself did not change


def test_denominations_added_changed_and_deleted_in_the_admin_are_audited(admin_client):
    data = {"currency": "EUR", "value": "1000.00", "kind": "note", "_save": "Save"}
    assert admin_client.post(admin_url(Denomination, "add"), data).status_code == 302
    note = Denomination.objects.get(currency="EUR", value=Decimal("1000.00"))
    data["kind"] = "coin"
    assert admin_client.post(admin_url(Denomination, "change", note.pk), data).status_code == 302
    delete = admin_url(Denomination, "delete", note.pk)
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302

    assert [e.action for e in entries(object_type="cashdrawer.denomination")] == [
        "denomination.create",
        "denomination.update",
        "denomination.delete",
    ]
    created, changed, deleted = entries(object_type="cashdrawer.denomination")
    assert created.data["values"] == {"currency": "EUR", "value": "1000.00", "kind": "note"}
    assert changed.data["changes"] == {"kind": {"old": "note", "new": "coin"}}
    assert deleted.data["values"] == {"currency": "EUR", "value": "1000.00", "kind": "coin"}
    assert {e.object_id for e in (created, changed, deleted)} == {str(note.pk)}
    assert {e.location for e in (created, changed, deleted)} == {None}


def test_a_membership_deleted_in_its_own_admin_is_audited(admin_client, cashier, location):
    membership = Membership.objects.get(user=cashier)
    url = admin_url(Membership, "delete", membership.pk)
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    [deleted] = entries("membership.delete")
    assert deleted.data["values"] == {
        "user": "carl",
        "location": "Amsterdam",
        "role": "cashier",
        "receives_alerts": True,
        "alert_mail": "immediate",
    }
    assert (deleted.object_id, deleted.location) == (str(membership.pk), location)


def test_users_added_and_changed_in_the_admin_never_leave_a_password_hash(admin_client):
    data = form_data(admin_client.get(admin_url(User, "add")))
    data |= {
        "username": "nina",
        "usable_password": "true",
        "password1": "A-long-new-pass-1",
        "password2": "A-long-new-pass-1",
    }
    response = admin_client.post(admin_url(User, "add"), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    nina = User.objects.get(username="nina")
    url = admin_url(User, "change", nina.pk)
    data = form_data(admin_client.get(url))
    data |= {"first_name": "Nina", "is_staff": "on"}
    assert admin_client.post(url, data).status_code == 302
    password_url = reverse("admin:auth_user_password_change", args=[nina.pk])
    response = admin_client.post(
        password_url,
        {
            "usable_password": "true",
            "password1": "Another-pass-22",
            "password2": "Another-pass-22",
            "set-password": "",
        },
    )
    assert response.status_code == 302

    created, changed, password = entries(object_type="auth.user", object_id=str(nina.pk))
    assert created.action == "user.create"
    assert created.data["values"]["username"] == "nina"
    assert created.data["values"]["password"] == "password set"
    assert changed.data["changes"] == {
        "first_name": {"old": "", "new": "Nina"},
        "is_staff": {"old": False, "new": True},
    }
    assert password.data == {"via": "admin", "changes": {"password": "password changed"}}
    nina.refresh_from_db()
    assert nina.password.split("$")[-1] not in every_data()
    assert "pass" not in every_data().replace("password", "")


def test_a_users_groups_changed_in_the_admin_show_old_and_new(admin_client, cashier):
    clerks = Group.objects.create(name="clerks")
    url = admin_url(User, "change", cashier.pk)
    data = form_data(admin_client.get(url)) | {"groups": [str(clerks.pk)]}
    assert admin_client.post(url, data).status_code == 302
    [changed] = entries("user.update")
    assert changed.data["changes"] == {"groups": {"old": [], "new": ["clerks"]}}


def test_a_user_with_an_audit_trail_is_kept_and_the_admin_says_why(admin_client, manager, register):
    services.open_session(register=register, opening_float="150.00", by=manager)
    url = admin_url(User, "delete", manager.pk)

    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "has an audit trail (1 entry), which is never deleted" in text
    assert "Deactivate the user instead" in text
    assert admin_client.post(url, {"post": "yes"}).status_code == 200
    bulk = admin_client.post(
        admin_url(User, "changelist"),
        {"action": "delete_selected", "_selected_action": [manager.pk], "post": "yes"},
    )
    assert bulk.status_code == 200
    assert "has an audit trail" in bulk.content.decode()
    assert User.objects.filter(pk=manager.pk).exists()
    # Below the admin too: the entries protect the user.
    with pytest.raises(ProtectedError):
        manager.delete()


def test_a_user_without_an_audit_trail_is_deleted_and_that_is_audited(admin_client, cashier):
    url = admin_url(User, "delete", cashier.pk)
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=cashier.pk).exists()
    [deleted] = entries("user.delete")
    assert deleted.object_id == str(cashier.pk)
    assert deleted.data["values"]["username"] == "carl"
    assert deleted.data["values"]["memberships"] == ["carl — cashier at Amsterdam"]
    assert "password" not in deleted.data["values"]


def test_a_location_with_an_audit_trail_is_kept_and_the_admin_says_why(admin_client, location):
    services_entry = AuditEntry.objects.create(
        action="location.update", object_type="cashdrawer.location", object_id=str(location.pk),
        location=location,
    )  # fmt: skip
    page = admin_client.post(admin_url(Location, "delete", location.pk), {"post": "yes"})
    assert page.status_code == 200
    assert "a location with a history stays" in page.content.decode()
    assert Location.objects.filter(pk=location.pk).exists()
    assert AuditEntry.objects.filter(pk=services_entry.pk).exists()


def test_a_location_without_a_trail_is_deleted_with_what_it_held(admin_client, other_location):
    url = admin_url(Location, "delete", other_location.pk)
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    [deleted] = entries("location.delete")
    assert deleted.location is None  # it is gone; the entry still says which it was
    assert deleted.object_id == str(other_location.pk)
    assert deleted.data["values"]["name"] == "Vienna"
    assert deleted.data["values"]["payment_methods"] == ["card", "cash"]


# --- device tokens ----------------------------------------------------------------------


def test_device_tokens_issued_and_revoked_are_audited_with_their_store(
    admin_client, manager, register
):
    api = APIClient()
    api.force_authenticate(manager)
    response = api.post(
        f"/api/v1/registers/{register.pk}/device-tokens/", {"name": "Till 1"}, format="json"
    )
    assert response.status_code == 201
    token = ApiToken.objects.get(pk=response.json()["id"])
    admin_client.post(
        admin_url(ApiToken, "changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )

    issued, revoked = entries(object_type="cashdrawer.apitoken")
    assert (issued.action, issued.user, issued.location) == (
        "api_token.issue",
        manager,
        register.location,
    )
    assert issued.data == {"kind": "device", "register": register.pk, "name": "Till 1"}
    assert (revoked.action, revoked.user.username, revoked.location) == (
        "api_token.revoke",
        "admin",
        register.location,
    )
    assert revoked.data == {
        "kind": "device",
        "register": register.pk,
        "name": "Till 1",
        "reason": "revoked",
    }
    assert response.json()["token"] not in every_data()


# --- immutable in the database -----------------------------------------------------------


def test_the_database_refuses_to_update_or_delete_an_audit_entry(manager):
    entry = AuditEntry.objects.create(
        user=manager, action="session.close", object_type="x", object_id="1"
    )
    table = AuditEntry._meta.db_table
    for sql in (
        f"UPDATE {table} SET action = 'nothing happened' WHERE id = %s",
        f"UPDATE {table} SET data = '{{}}'::jsonb, user_id = NULL WHERE id = %s",
        f"DELETE FROM {table} WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="Cannot update or delete"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    entry.refresh_from_db()
    assert (entry.action, entry.user) == ("session.close", manager)


# --- a session's trail on its page --------------------------------------------------------


@pytest.fixture
def shift(register, manager, cashier):
    """A session with a sale, a cash out, a close and a correction; and a second session
    whose entries must not show on the first one's page."""
    session = services.open_session(register=register, opening_float="150.00", by=cashier)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="10.00", by=cashier
    )
    services.adjust_float(session=session, direction="out", amount="5.00", reason="x", by=cashier)
    services.close_session(session=session, counted="155.00", by=cashier)
    services.add_correction(session=session, amount="-1.00", reason="coin", by=manager)
    services.record_transaction(
        register=register, kind="sale", payment_method="card", amount="3.00", by=cashier
    )
    return session


def test_a_manager_sees_the_whole_trail_of_a_session_on_its_page(client, manager, shift):
    client.force_login(manager)
    response = client.get(reverse("reports:session", args=[shift.pk]))
    assert response.status_code == 200
    trail = response.context["audit_trail"]
    assert [(e.action, e.user.username) for e in trail] == [
        ("session.open", "carl"),
        ("transaction.sale", "carl"),
        ("adjustment.out", "carl"),
        ("session.close", "carl"),
        ("session.correct", "maria"),
    ]
    text = response.content.decode()
    assert 'id="audit-trail"' in text
    assert "reason: coin" in text
    assert "Correction #" in text


def test_an_accountant_sees_the_trail_and_a_cashier_does_not(client, accountant, cashier, shift):
    url = reverse("reports:session", args=[shift.pk])
    client.force_login(accountant)
    assert len(client.get(url).context["audit_trail"]) == 5
    client.force_login(cashier)
    response = client.get(url)
    assert response.context["audit_trail"] is None
    assert 'id="audit-trail"' not in response.content.decode()


# --- where an entry is ------------------------------------------------------------------


def test_new_entries_name_their_store_where_there_is_one(register, manager, shift):
    at_the_store = entries(object_type__startswith="sessions_app.")
    assert at_the_store
    assert {e.location for e in at_the_store} == {register.location}
    Client().post("/login/", {"username": "maria", "password": "s3cret-pass"})
    assert entries("login")[-1].location is None


# --- the admin's list and its CSV file -------------------------------------------------


@pytest.fixture
def two_stores(register, other_location, make_register, manager, make_user):
    """Trail in Amsterdam (the shift of `manager`) and in Vienna (of `vera`)."""
    vera = make_user("=vera", location=other_location, role="manager", first_name="Vera")
    services.open_session(register=register, opening_float="150.00", by=manager)
    vienna = make_register(other_location, name="Kasse", code="kasse")
    services.open_session(register=vienna, opening_float="80.00", by=vera)
    services.record_transaction(
        register=vienna, kind="sale", payment_method="cash", amount="2.50", by=vera
    )
    Client(REMOTE_ADDR="192.0.2.44").post("/login/", {"username": "ghost", "password": "x"})
    return {"vera": vera, "vienna": other_location}


def result(response) -> list[AuditEntry]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_admin_lists_the_trail_filtered_by_location_user_action_and_date(
    admin_client, two_stores, manager
):
    url = admin_url(AuditEntry, "changelist")
    vienna = two_stores["vienna"]
    assert {
        e.action for e in result(admin_client.get(url, {"location__id__exact": vienna.pk}))
    } == {
        "session.open",
        "transaction.sale",
    }
    by_maria = result(admin_client.get(url, {"user__id__exact": manager.pk}))
    assert [e.action for e in by_maria] == ["session.open"]
    failed = result(admin_client.get(url, {"action": "login_failed"}))
    assert [e.data["username"] for e in failed] == ["ghost"]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    assert result(admin_client.get(url, {"at__gte": later})) == []
    page = admin_client.get(url).content.decode()
    for name in ("location", "user", "action"):
        assert f"By {name}" in page


def test_the_trail_is_read_only_in_the_admin(admin_client, two_stores):
    entry = AuditEntry.objects.order_by("pk").first()
    assert admin_client.get(admin_url(AuditEntry, "add")).status_code == 403
    change = admin_url(AuditEntry, "change", entry.pk)
    assert admin_client.get(change).status_code == 200
    assert admin_client.post(change, {"action": "edited"}).status_code == 403
    assert admin_client.post(admin_url(AuditEntry, "delete", entry.pk)).status_code == 403
    assert (
        "delete_selected"
        not in admin_client.get(admin_url(AuditEntry, "changelist")).content.decode()
    )
    entry.refresh_from_db()
    assert entry.action != "edited"


def csv_rows(response, delimiter: str = ",") -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode().removeprefix("\ufeff")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_the_admin_exports_the_filtered_trail_as_csv(admin_client, two_stores):
    url = admin_url(AuditEntry, "changelist")
    vienna = two_stores["vienna"]
    page = admin_client.get(url, {"location__id__exact": vienna.pk}).content.decode()
    assert f"?location__id__exact={vienna.pk}&amp;_export=excel" in page

    rows = csv_rows(admin_client.get(url, {"location__id__exact": vienna.pk, "_export": "excel"}))
    assert [row["action"] for row in rows] == ["transaction.sale", "session.open"]
    sale = rows[0]
    # A name a spreadsheet would run as a formula is neutralised.
    assert (sale["user"], sale["user_name"], sale["location"]) == ("'=vera", "Vera", "Vienna")
    assert json.loads(sale["data"]) == {"amount": "2.50", "payment_method": "cash", "late": False}
    assert dt.datetime.fromisoformat(sale["at"]).utcoffset() == dt.timedelta(0)

    eu = admin_client.get(url, {"action": "login_failed", "_export": "excel-eu"})
    [failed] = csv_rows(eu, delimiter=";")
    assert (failed["user"], failed["address"]) == ("", "192.0.2.44")
    assert json.loads(failed["data"])["username"] == "ghost"


def test_a_staff_member_without_the_view_permission_cannot_export(client, two_stores, manager):
    manager.is_staff = True
    manager.save()
    client.force_login(manager)
    response = client.get(admin_url(AuditEntry, "changelist"), {"_export": "excel"})
    assert response.status_code == 403
