"""Every error of API.md with its body, and bad input of every kind answering 4xx, never 500."""

from __future__ import annotations

import pytest

from sessions_app import services
from sessions_app.models import TrackingSession, Transaction

pytestmark = pytest.mark.django_db


def _is_field_dict(body) -> bool:
    return isinstance(body, dict) and all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in body.values()
    )


def _sale(register, /, **changes) -> dict:
    return {
        "register": register.pk,
        "kind": "sale",
        "payment_method": "cash",
        "amount": "1.00",
        **changes,
    }


# --- 400 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "1.001"}, "amount"),  # more decimals than EUR has
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e999999"}, "amount"),
        ({"amount": 10**30}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": None}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"amount": {"value": 1}}, "amount"),
        ({"kind": "gift"}, "kind"),
        ({"payment_method": ""}, "payment_method"),
        ({"payment_method": "x" * 41}, "payment_method"),
        ({"payment_method": 5}, "payment_method"),
        ({"payment_method": "ca\x00sh"}, "payment_method"),
        ({"external_id": "x" * 101}, "external_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2026-05-04T10:00:00"}, "occurred_at"),  # no offset
        ({"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),  # past year 9999 in UTC
        ({"register": "one"}, "register"),
        ({"register": 2**70}, "register"),
        ({"register": -1}, "register"),
    ],
)
def test_bad_transaction_input_is_400_with_the_field(client_for, manager, register, changes, field):
    response = client_for(manager).post("/api/v1/transactions/", _sale(register, **changes))
    assert response.status_code == 400, response.content
    assert _is_field_dict(response.json())
    assert field in response.json(), response.json()
    assert Transaction.objects.count() == 0


def test_a_json_number_with_too_many_decimals_is_refused_not_rounded(client_for, manager, register):
    response = client_for(manager).post(
        "/api/v1/transactions/",
        data=b'{"register": %d, "kind": "sale", "payment_method": "cash", "amount": 0.105}'
        % register.pk,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["amount"]


def test_a_json_number_is_taken_exactly(client_for, manager, register):
    response = client_for(manager).post(
        "/api/v1/transactions/",
        data=b'{"register": %d, "kind": "sale", "payment_method": "cash", "amount": 0.1}'
        % register.pk,
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["amount"] == "0.10"


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"not json",
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b"[" * 100000 + b"]" * 100000,
        b'{"register": 1' + b"0" * 5000 + b"}",
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b"null",
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(client_for, manager, register, raw):
    response = client_for(manager).post(
        "/api/v1/transactions/", data=raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert _is_field_dict(response.json())


def test_a_body_that_is_not_json_is_415(client_for, manager):
    response = client_for(manager).post(
        "/api/v1/transactions/", data="register=1", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "opening_float"),
        ({"opening_float": "1.00", "opening_counts": []}, "opening_float"),
        ({"opening_counts": "50 x 3"}, "opening_counts"),
        ({"opening_counts": [{"value": "0.03", "quantity": 1}]}, "opening_counts"),
        ({"opening_counts": [{"value": "1.00", "quantity": -1}]}, "opening_counts"),
        ({"opening_counts": [{"value": "1.00", "quantity": 1.5}]}, "opening_counts"),
        ({"opening_counts": [{"value": "1.00"}]}, "opening_counts"),
        ({"opening_counts": [5]}, "opening_counts"),
        ({"opening_counts": [{"value": "1.00", "quantity": 10**12}]}, "opening_counts"),
        ({"note": ["a"]}, "note"),
    ],
)
def test_bad_opening_input_is_400(client_for, manager, counted_register, body, field):
    response = client_for(manager).post(
        "/api/v1/sessions/", {"register": counted_register.pk, **body}
    )
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert _is_field_dict(response.json())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"direction": "sideways", "amount": "1", "reason": "x"}, "direction"),
        ({"direction": "in", "amount": "0", "reason": "x"}, "amount"),
        ({"direction": "out", "amount": "-5.00", "reason": "x"}, "amount"),
        ({"direction": "in", "amount": "1", "reason": ""}, "reason"),
        ({"direction": "in", "amount": "1"}, "reason"),
    ],
)
def test_bad_adjustment_input_is_400(client_for, manager, register, body, field):
    session = services.open_session(register=register, opening_float="0", by=None)
    response = client_for(manager).post(f"/api/v1/sessions/{session.pk}/adjustments/", body)
    assert response.status_code == 400
    assert field in response.json(), response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"counted_cash": "1.00", "counts": []}, "counted_cash"),
        ({"counted_cash": "abc"}, "counted_cash"),
        ({"counted_cash": "10.00", "retained_float": "20.00"}, "retained_float"),
        ({"counts": [{"value": "50.00", "quantity": 1}], "retained_float": "60"}, "retained_float"),
    ],
)
def test_bad_close_input_is_400_and_the_session_stays_open(
    client_for, manager, register, body, field
):
    session = services.open_session(register=register, opening_float="0", by=None)
    response = client_for(manager).post(f"/api/v1/sessions/{session.pk}/close/", body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    session.refresh_from_db()
    assert session.is_open


def test_a_main_register_refuses_a_total_count(client_for, manager, main_register):
    session = services.open_session(register=main_register, opening_float="0", by=None)
    response = client_for(manager).post(
        f"/api/v1/sessions/{session.pk}/close/", {"counted_cash": "5.00"}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["counted_cash"]


@pytest.mark.parametrize(
    "params",
    [
        {"register": "abc"},
        {"register": "1.5"},
        {"register": str(2**64)},
        {"status": "ajar"},
        {"opened_from": "2026-02-30"},
        {"opened_to": "tomorrow"},
        {"ordering": "amount"},
        {"location": "-3"},
        # What an integer, a boolean and a date are in the schema, and nothing else.
        {"location": "1.0"},
        {"register": " 1"},
        {"opened_from": "20260101"},
        {"opened_to": "01/02/2026"},
        {"page_size": "-4"},
        {"page_size": "0"},
        {"page_size": "null"},
        {"page": "last"},
        {"page": "0"},
    ],
)
def test_bad_filters_are_400(client_for, manager, params):
    response = client_for(manager).get("/api/v1/sessions/", params)
    assert response.status_code == 400
    assert _is_field_dict(response.json())


@pytest.mark.parametrize(
    "params",
    [
        {"opened_from": "0001-01-01"},
        {"opened_to": "9999-12-31"},
        {"page_size": "1000"},  # more than 500: 500 a page
        # An empty parameter is as if it were not given (allowEmptyValue in the schema).
        {"page_size": ""},
        {"page": ""},
        {"location": ""},
        {"status": ""},
    ],
)
def test_extreme_but_valid_filters_answer(client_for, manager, register, params):
    services.open_session(register=register, opening_float="0", by=None)
    response = client_for(manager).get("/api/v1/sessions/", params)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_an_invalid_idempotency_key_is_400(client_for, manager, register):
    api = client_for(manager)
    for key in ["", "x" * 256, "tab\tkey", "é"]:
        response = api.post("/api/v1/transactions/", _sale(register), HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code == 400, key
        assert list(response.json()) == ["Idempotency-Key"]
    assert Transaction.objects.count() == 0


# --- input is read as the schema states it, nothing more -----------------------------------


@pytest.mark.parametrize(
    ("path", "changes", "field"),
    [
        # An amount as text is digits and one point: no space around it, no sign.
        ("transactions", {"amount": " 45.00"}, "amount"),
        ("transactions", {"amount": "45.00\n"}, "amount"),
        ("transactions", {"amount": "-0"}, "amount"),
        # A text's length is counted as sent, as the schema's maxLength counts it.
        ("transactions", {"payment_method": "cash" + " " * 37}, "payment_method"),
        ("transactions", {"external_id": " " * 101}, "external_id"),
        # A count is a list of objects, not of [value, quantity] pairs.
        ("sessions", {"opening_counts": [["50.00", 1]]}, "opening_counts"),
        # A register's default float: digits and one point, at most the widest ceiling.
        ("registers", {"default_float": " 10.00"}, "default_float"),
        ("registers", {"default_float": "1000000000.01"}, "default_float"),
    ],
)
def test_input_the_schema_does_not_admit_is_400(
    client_for, manager, location, register, path, changes, field
):
    body = {
        "transactions": _sale(register),
        "sessions": {"register": register.pk},
        "registers": {"location": location.pk, "name": "Till 9", "code": "t9"},
    }[path]
    response = client_for(manager).post(f"/api/v1/{path}/", {**body, **changes})
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field], response.json()


def test_late_is_true_or_false(client_for, manager, register):
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="1.00", by=manager
    )
    api = client_for(manager)
    assert api.get("/api/v1/transactions/", {"late": "true"}).json()["count"] == 0
    assert api.get("/api/v1/transactions/", {"late": "false"}).json()["count"] == 1
    for wrong in ("abc", "True", "1", "yes"):
        response = api.get("/api/v1/transactions/", {"late": wrong})
        assert response.status_code == 400, wrong
        assert list(response.json()) == ["late"]


def test_a_register_with_a_default_float_of_trailing_zeros(client_for, manager, location):
    response = client_for(manager).post(
        "/api/v1/registers/",
        {"location": location.pk, "name": "Till 9", "code": "t9", "default_float": "150.500"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["default_float"] == "150.50"


# --- 401 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Token", "Token nope", "Token a b", "Token \u00e9\u00e9", "token nope"]
)
def test_no_or_bad_credentials_are_401(api_client, header):
    if header is not None:
        api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get("/api/v1/sessions/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    assert response["WWW-Authenticate"] == "Token"


def test_the_token_endpoint_answers_401_to_a_bad_authorization_header(api_client, manager):
    """It needs no credentials, but one that is sent must be good (documented)."""
    api_client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = api_client.post(
        "/api/v1/auth/token/", {"username": manager.username, "password": "s3cret-pass"}
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_scheme_is_treated_as_no_credentials(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer abc")
    response = api_client.get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- 403, 404 -----------------------------------------------------------------------------


def test_403_and_404_bodies(client_for, accountant, other_manager, register):
    session = services.open_session(register=register, opening_float="0", by=None)
    forbidden = client_for(accountant).post(
        f"/api/v1/sessions/{session.pk}/adjustments/",
        {"direction": "in", "amount": "1", "reason": "x"},
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    hidden = client_for(other_manager).get(f"/api/v1/sessions/{session.pk}/")
    assert hidden.status_code == 404
    assert hidden.json() == {
        "detail": "No TrackingSession matches the given query.",
        "code": "not_found",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions/999999/",
        "/api/v1/sessions/99999999999999999999999/",
        "/api/v1/sessions/9223372036854775808/",
        "/api/v1/sessions/-1/",
        "/api/v1/sessions/abc/",
        "/api/v1/registers/99999999999999999999999/",
        "/api/v1/transactions/9223372036854775808/",
        "/api/v1/nothing-here/",
        "/api/v1/alerts/%C2%BE%0A/seen/",  # a newline in the path (found by the fuzzer)
        "/api/v1/sessions",
    ],
)
def test_unknown_and_out_of_range_ids_are_404(client_for, manager, path):
    response = client_for(manager).get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_method_an_endpoint_does_not_have_is_405_with_the_error_body(
    client_for, manager, location
):
    response = client_for(manager).put(f"/api/v1/locations/{location.pk}/", {"name": "X"})
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_posting_to_an_out_of_range_session_is_404(client_for, manager):
    response = client_for(manager).post(
        "/api/v1/sessions/9223372036854775808/close/", {}, format="json"
    )
    assert response.status_code == 404


def test_a_register_of_another_location_in_a_body_is_404(client_for, other_manager, register):
    response = client_for(other_manager).post("/api/v1/transactions/", _sale(register))
    assert response.status_code == 404
    assert Transaction.objects.count() == 0


# --- 409 ----------------------------------------------------------------------------------


def test_session_already_open(client_for, manager, register):
    api = client_for(manager)
    assert (
        api.post("/api/v1/sessions/", {"register": register.pk, "opening_float": "0"}).status_code
        == 201
    )
    again = api.post("/api/v1/sessions/", {"register": register.pk, "opening_float": "0"})
    assert again.status_code == 409
    assert again.json()["code"] == "session_already_open"
    assert set(again.json()) == {"detail", "code"}


def test_session_closed(client_for, manager, register):
    session = services.open_session(register=register, opening_float="0", by=None)
    services.close_session(session=session, by=None)
    api = client_for(manager)
    for path, body in [
        ("adjustments", {"direction": "in", "amount": "1", "reason": "x"}),
        ("close", {}),
    ]:
        response = api.post(f"/api/v1/sessions/{session.pk}/{path}/", body)
        assert response.status_code == 409
        assert response.json()["code"] == "session_closed"


def test_main_session_not_open(client_for, manager, sub_a):
    api = client_for(manager)
    response = api.post("/api/v1/sessions/", {"register": sub_a.pk, "opening_float": "0"})
    assert response.status_code == 409
    assert response.json()["code"] == "main_session_not_open"
    response = api.post("/api/v1/transactions/", _sale(sub_a))
    assert response.status_code == 409
    assert response.json()["code"] == "main_session_not_open"
    assert not TrackingSession.objects.exists()
    assert not Transaction.objects.exists()


def test_cash_tracking_off(client_for, manager, location, make_register):
    untracked = make_register(location, cash_tracking=False)
    response = client_for(manager).post(
        "/api/v1/sessions/", {"register": untracked.pk, "opening_float": "0"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cash_tracking_off"
    # Transactions are still recorded, for sales by method, without a session.
    sale = client_for(manager).post("/api/v1/transactions/", _sale(untracked))
    assert sale.status_code == 201
    assert sale.json()["session"] is None
