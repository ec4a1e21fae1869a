"""Who may do what, endpoint by endpoint: managers of A and of B, a cashier and an
accountant of A, a device token of register R at A, and no credentials at all.

Another location's objects answer 404 and their body carries nothing but the error.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cashdrawer.authentication import issue_device_token, issue_user_token
from sessions_app import services
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db

ACTORS = ["manager_a", "manager_b", "cashier_a", "accountant_a", "device_r", "anonymous"]

# (method, path, body, expected status for each actor in ACTORS order)
MATRIX = {
    "list locations": ("get", "/api/v1/locations/", None, [200, 200, 200, 200, 403, 401]),
    "read location": ("get", "/api/v1/locations/{A}/", None, [200, 404, 200, 200, 403, 401]),
    "change location": (
        "patch", "/api/v1/locations/{A}/", {"name": "Amsterdam"}, [200, 404, 403, 403, 403, 401]
    ),
    "create location": (
        "post",
        "/api/v1/locations/",
        {"name": "Utrecht", "currency": "EUR", "timezone": "UTC"},
        [403, 403, 403, 403, 403, 401],
    ),
    "list registers": ("get", "/api/v1/registers/", None, [200, 200, 200, 200, 403, 401]),
    "read register": ("get", "/api/v1/registers/{R}/", None, [200, 404, 200, 200, 200, 401]),
    "change register": (
        "patch", "/api/v1/registers/{R}/", {"blind_close": True}, [200, 404, 403, 403, 403, 401]
    ),
    "create register": (
        "post",
        "/api/v1/registers/",
        {"location": "{A}", "name": "New", "code": "new", "count_method": "total"},
        # Manager B may create registers, but not at A: A is not a choice (400, no data).
        [201, 400, 403, 403, 403, 401],
    ),
    "list denominations": ("get", "/api/v1/denominations/", None, [200] * 5 + [401]),
    "list sessions": ("get", "/api/v1/sessions/", None, [200] * 5 + [401]),
    "read session": ("get", "/api/v1/sessions/{S}/", None, [200, 404, 200, 200, 200, 401]),
    "open session": (
        "post",
        "/api/v1/sessions/",
        {"register": "{R2}", "opening_float": "0"},
        [201, 404, 201, 403, 403, 401],
    ),
    "adjust": (
        "post",
        "/api/v1/sessions/{S}/adjustments/",
        {"direction": "in", "amount": "1", "reason": "change"},
        [201, 404, 201, 403, 201, 401],
    ),
    "close": (
        "post",
        "/api/v1/sessions/{S}/close/",
        {"counted_cash": "0"},
        [200, 404, 200, 403, 200, 401],
    ),
    "list transactions": ("get", "/api/v1/transactions/", None, [200] * 5 + [401]),
    "post transaction": (
        "post",
        "/api/v1/transactions/",
        {"register": "{R}", "kind": "sale", "payment_method": "cash", "amount": "1"},
        [201, 404, 201, 403, 201, 401],
    ),
    "read transaction": ("get", "/api/v1/transactions/{T}/", None, [200, 404, 200, 200, 200, 401]),
    "issue device token": (
        "post", "/api/v1/registers/{R}/device-tokens/", {}, [201, 404, 403, 403, 403, 401]
    ),
    "list device tokens": (
        "get", "/api/v1/registers/{R}/device-tokens/", None, [200, 404, 403, 403, 403, 401]
    ),
    "revoke device token": (
        "delete", "/api/v1/device-tokens/{D}/", None, [204, 404, 403, 403, 403, 401]
    ),
}  # fmt: skip

CASES = [
    pytest.param(name, actor, MATRIX[name][3][index], id=f"{name}-{actor}")
    for name in MATRIX
    for index, actor in enumerate(ACTORS)
]


@pytest.fixture
def world(location, other_location, register, make_register, make_user, manager):
    manager_b = make_user("bert", location=other_location, role="manager")
    cashier = make_user("carl", location=location, role="cashier")
    accountant = make_user("ada", location=location, role="accountant")
    spare = make_register(location, name="R2", code="r2", count_method="total")
    session = services.open_session(register=register, opening_float="0", by=manager)
    sale = services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="1", by=manager
    ).transaction
    device = issue_device_token(register=register, by=manager)
    ids = {
        "A": location.pk,
        "R": register.pk,
        "R2": spare.pk,
        "S": session.pk,
        "T": sale.pk,
        "D": device.token.pk,
    }
    clients = {
        "manager_a": client_with(issue_user_token(user=manager).secret),
        "manager_b": client_with(issue_user_token(user=manager_b).secret),
        "cashier_a": client_with(issue_user_token(user=cashier).secret),
        "accountant_a": client_with(issue_user_token(user=accountant).secret),
        "device_r": client_with(device.secret),
        "anonymous": client_with(None),
    }
    return SimpleNamespace(ids=ids, clients=clients, location=location)


def _fill(value, ids: dict):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {
            key: int(_fill(item, ids)) if item in {"{A}", "{R}", "{R2}"} else _fill(item, ids)
            for key, item in value.items()
        }
    return value


@pytest.mark.parametrize(("endpoint", "actor", "expected"), CASES)
def test_permission_matrix(world, endpoint, actor, expected):
    method, path, body, _statuses = MATRIX[endpoint]
    client = world.clients[actor]
    args = [_fill(body, world.ids)] if body is not None else []
    response = getattr(client, method)(_fill(path, world.ids), *args, format="json")
    assert response.status_code == expected, response.content
    if expected in (401, 403, 404):
        assert set(response.json()) == {"detail", "code"}
    if actor == "manager_b" and expected == 200 and isinstance(response.json(), dict):
        # Nothing of location A in what B lists.
        for item in response.json().get("results", []):
            assert item.get("location", item.get("id")) != world.location.pk or (
                endpoint == "list denominations"
            )
        if endpoint in {"list sessions", "list transactions"}:
            assert response.json()["count"] == 0
