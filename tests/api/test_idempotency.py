"""Idempotency-Key: replays, 422 for another request, refusals not kept, in flight, pruning."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from cashdrawer import idempotency
from cashdrawer.models import ApiToken, IdempotencyRecord
from sessions_app import services
from sessions_app.models import Adjustment, TrackingSession, Transaction
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db


def _sale(register, amount: str = "4.50") -> dict:
    return {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": amount}


def test_a_repeat_answers_the_first_response_and_changes_nothing(client_for, cashier, register):
    api = client_for(cashier)
    first = api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Transaction.objects.count() == 1
    assert TrackingSession.objects.get().cash_sales_count == 1


def test_the_same_body_in_another_key_order_or_spacing_is_the_same_request(
    client_for, cashier, register
):
    api = client_for(cashier)
    body = b'{"register": %d, "kind": "sale", "payment_method": "cash", "amount": "1.00"}'
    reordered = b'{ "amount":"1.00","payment_method":"cash","kind":"sale","register":%d }'
    first = api.post(
        "/api/v1/transactions/",
        body % register.pk,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    again = api.post(
        "/api/v1/transactions/",
        reordered % register.pk,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert Transaction.objects.count() == 1


def test_another_body_or_path_with_the_same_key_is_422(client_for, manager, register):
    api = client_for(manager)
    assert (
        api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    other_body = api.post(
        "/api/v1/transactions/", _sale(register, "9.99"), HTTP_IDEMPOTENCY_KEY="k"
    )
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert set(other_body.json()) == {"detail", "code"}
    session = TrackingSession.objects.get()
    other_path = api.post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "in", "amount": "1", "reason": "x"},
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert other_path.status_code == 422
    assert Transaction.objects.count() == 1
    assert not Adjustment.objects.exists()


def test_keys_of_different_credentials_never_meet(client_for, manager, cashier, register):
    for user in (manager, cashier):
        response = client_for(user).post(
            "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="shared"
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response
    assert Transaction.objects.count() == 2


def test_a_new_token_of_the_same_user_replays_the_first_answer(
    client_for, api_client, manager, register
):
    """Keys belong to the user behind the credential: a terminal or script that gets a new
    token keeps its replay protection; the browser session of the user shares them too."""
    first = client_for(manager).post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    again = client_for(manager).post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    api_client.force_login(manager)
    in_the_browser = api_client.post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="sale-1"
    )
    assert first.status_code == 201
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert (in_the_browser.status_code, in_the_browser["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == in_the_browser.json() == first.json()
    assert Transaction.objects.count() == 1


def test_device_tokens_share_their_registers_keys_and_no_one_elses(
    device_client_for, client_for, manager, register, counted_register
):
    """A terminal with a new device token of its register replays; the same key on another
    register's token, or by the manager who issued the tokens, is a request of its own."""
    first = device_client_for(register).post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="pos-7"
    )
    new_token = device_client_for(register).post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="pos-7"
    )
    other_till = device_client_for(counted_register).post(
        "/api/v1/transactions/", _sale(counted_register), HTTP_IDEMPOTENCY_KEY="pos-7"
    )
    issuer = client_for(manager).post(
        "/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="pos-7"
    )
    assert first.status_code == other_till.status_code == issuer.status_code == 201
    assert new_token.json() == first.json()
    assert new_token["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in other_till
    assert "Idempotent-Replayed" not in issuer
    assert Transaction.objects.filter(register=register).count() == 2
    assert Transaction.objects.filter(register=counted_register).count() == 1


def test_a_refused_request_is_not_kept_so_a_later_retry_goes_through(
    client_for, manager, main_register, sub_a
):
    """A sub-register's sale while its main is closed is refused (409) and kept by the
    terminal; sent again with the same key once the main is open, it is recorded."""
    api = client_for(manager)
    refused = api.post("/api/v1/transactions/", _sale(sub_a), HTTP_IDEMPOTENCY_KEY="sale-7")
    assert refused.status_code == 409
    assert not IdempotencyRecord.objects.exists()
    services.open_session(register=main_register, opening_float="0", by=manager)
    accepted = api.post("/api/v1/transactions/", _sale(sub_a), HTTP_IDEMPOTENCY_KEY="sale-7")
    assert accepted.status_code == 201
    replay = api.post("/api/v1/transactions/", _sale(sub_a), HTTP_IDEMPOTENCY_KEY="sale-7")
    assert replay.status_code == 201 and replay.content == accepted.content
    assert Transaction.objects.count() == 1


def test_a_replayed_close_answers_200_with_the_closed_session(client_for, manager, register):
    session = services.open_session(register=register, opening_float="0", by=None)
    api = client_for(manager)
    first = api.post(
        f"/api/v1/sessions/{session.pk}/close/", {"counted_cash": "0"}, HTTP_IDEMPOTENCY_KEY="c"
    )
    again = api.post(
        f"/api/v1/sessions/{session.pk}/close/", {"counted_cash": "0"}, HTTP_IDEMPOTENCY_KEY="c"
    )
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    # Without the key the same request meets the rule: the session is closed.
    assert api.post(f"/api/v1/sessions/{session.pk}/close/", {}).status_code == 409


@pytest.mark.parametrize("path", ["/api/v1/sessions/", "/api/v1/registers/", "/api/v1/locations/"])
def test_every_post_takes_a_key(client_for, superuser, location, register, path):
    body = {
        "/api/v1/sessions/": {"register": register.pk, "opening_float": "1.00"},
        "/api/v1/registers/": {"location": location.pk, "name": "N", "code": "n"},
        "/api/v1/locations/": {"name": "N", "currency": "EUR", "timezone": "UTC"},
    }[path]
    api = client_for(superuser)
    first = api.post(path, body, HTTP_IDEMPOTENCY_KEY="once")
    again = api.post(path, body, HTTP_IDEMPOTENCY_KEY="once")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()


def test_a_repeated_device_token_request_answers_the_same_token_with_a_new_secret(
    client_for, manager, register
):
    api = client_for(manager)
    path = f"/api/v1/registers/{register.pk}/device-tokens/"
    first = api.post(path, {"name": "T1"}, HTTP_IDEMPOTENCY_KEY="dev")
    again = api.post(path, {"name": "T1"}, HTTP_IDEMPOTENCY_KEY="dev")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["token"] != first.json()["token"]
    assert ApiToken.objects.filter(kind="device").count() == 1
    # No secret is kept in the idempotency record.
    record = IdempotencyRecord.objects.get(key="dev")
    assert first.json()["token"] not in record.response_body
    assert "token" not in record.response_body.replace("device-tokens", "")
    # The first secret (maybe lost on the way) no longer works; the new one does.
    assert client_with(first.json()["token"]).get("/api/v1/sessions/").status_code == 401
    assert client_with(again.json()["token"]).get("/api/v1/sessions/").status_code == 200


def test_a_repeat_does_not_bring_a_revoked_device_token_back_nor_skip_the_managers_check(
    client_for, manager, register
):
    api = client_for(manager)
    path = f"/api/v1/registers/{register.pk}/device-tokens/"
    first = api.post(path, {"name": "T1"}, HTTP_IDEMPOTENCY_KEY="dev")
    assert api.delete(f"/api/v1/device-tokens/{first.json()['id']}/").status_code == 204

    again = api.post(path, {"name": "T1"}, HTTP_IDEMPOTENCY_KEY="dev")
    assert again.status_code == 404
    assert "revoked" in again.json()["detail"]
    assert ApiToken.objects.get(kind="device").revoked_at is not None

    # Demoted to cashier, the same repeat may no longer re-key the terminal's token.
    second = api.post(path, {"name": "T2"}, HTTP_IDEMPOTENCY_KEY="dev-2")
    digest = ApiToken.objects.get(pk=second.json()["id"]).digest
    manager.memberships.update(role="cashier")
    refused = api.post(path, {"name": "T2"}, HTTP_IDEMPOTENCY_KEY="dev-2")
    assert refused.status_code == 403
    assert ApiToken.objects.get(pk=second.json()["id"]).digest == digest


def test_a_repeated_login_gets_the_same_token_with_a_new_secret(api_client, manager):
    body = {"username": "maria", "password": "s3cret-pass"}
    first = api_client.post("/api/v1/auth/token/", body, HTTP_IDEMPOTENCY_KEY="login")
    again = api_client.post("/api/v1/auth/token/", body, HTTP_IDEMPOTENCY_KEY="login")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert ApiToken.objects.count() == 1
    # The password is checked on the repeat too, and is not in the fingerprint.
    wrong = api_client.post(
        "/api/v1/auth/token/", {**body, "password": "guess"}, HTTP_IDEMPOTENCY_KEY="login"
    )
    assert wrong.status_code == 400
    record = IdempotencyRecord.objects.get()
    assert "s3cret" not in record.response_body


def test_a_repeat_while_the_first_is_in_flight_waits_or_answers_409(
    client_for, cashier, register, monkeypatch, transactional_db
):
    """The first request's record is uncommitted (it holds the row as a real request in
    flight would); the repeat's INSERT waits on it, and after WAIT_FOR_FIRST answers 409."""
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST", "300ms")
    api = client_for(cashier)
    token = ApiToken.objects.get()
    holding, release = threading.Event(), threading.Event()

    def first_in_flight() -> None:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    identity=f"user:{token.user_id}",
                    key="slow",
                    fingerprint="x",
                    created_at=timezone.now(),
                )
                holding.set()
                release.wait(timeout=10)
                transaction.set_rollback(True)  # the first one fails: nothing stays
        finally:
            connection.close()

    thread = threading.Thread(target=first_in_flight)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        response = api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="slow")
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_in_flight"
        assert not Transaction.objects.exists()
    finally:
        release.set()
        thread.join(timeout=10)
    # The first rolled back: the key is free, and the retry is recorded.
    retry = api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="slow")
    assert retry.status_code == 201
    assert Transaction.objects.count() == 1


def test_prune_keeps_30_days_and_refuses_fewer(client_for, cashier, register):
    api = client_for(cashier)
    api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY="old")
    api.post("/api/v1/transactions/", _sale(register, "1.00"), HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    IdempotencyRecord.objects.filter(key="new").update(
        created_at=timezone.now() - dt.timedelta(days=29)
    )
    with pytest.raises(CommandError):
        call_command("prune_idempotency_keys", "--days", "7")
    assert IdempotencyRecord.objects.count() == 2
    call_command("prune_idempotency_keys")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
