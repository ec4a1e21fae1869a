"""A POS developer generates a client from the served OpenAPI schema with
openapi-python-client and plays a shift with it against the live server: a user token,
an opening float, a cash sale with an Idempotency-Key (and its repeat: the same answer, one
row), and a close counted by denominations. The generator must understand the whole
schema (no warning), and the typed models must read every answer.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

from sessions_app.models import TrackingSession, Transaction

pytestmark = pytest.mark.django_db(transaction=True)

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PASSWORD = "s3cret-pass"  # what tests/conftest.py's make_user gives everyone
PACKAGE = "cashdrawer_pos_client"


@pytest.fixture
def client_package(live_server, tmp_path):
    """The client generated from the schema the server serves, imported."""
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(f"{live_server.url}/api/schema/?format=json") as answer:
        schema.write_bytes(answer.read())
    config = tmp_path / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run on the generated code
    generated = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(package, name: str):
    return importlib.import_module(f"{package.__name__}.{name}")


def test_a_shift_through_a_generated_client(
    live_server, client_package, shipped_denominations, counted_register, manager
):
    api = _module(client_package, "api")
    models = _module(client_package, "models")
    auth = _module(client_package, "api.auth.auth_token_create")
    open_session = _module(client_package, "api.sessions.sessions_create")
    post_transaction = _module(client_package, "api.transactions.transactions_create")
    close_session = _module(client_package, "api.sessions.sessions_close_create")
    assert api is not None

    anonymous = client_package.Client(base_url=live_server.url)
    issued = auth.sync_detailed(
        client=anonymous,
        body=models.TokenRequest(username=manager.username, password=PASSWORD, name="till 1"),
    )
    assert issued.status_code == 201, issued.content
    terminal = client_package.AuthenticatedClient(
        base_url=live_server.url, token=issued.parsed.token, prefix="Token"
    )

    opened = open_session.sync(
        client=terminal,
        body=models.OpenSessionRequest(register=counted_register.pk, opening_float="100.00"),
    )
    assert isinstance(opened, models.Session), opened
    assert (opened.status, opened.opening_float) == (models.SessionStatusEnum.OPEN, "100.00")

    sale = models.TransactionRequest(
        register=counted_register.pk,
        kind=models.TransactionKindEnum.SALE,
        payment_method="cash",
        amount="45.50",
        external_id="receipt-1",
    )
    first = post_transaction.sync_detailed(client=terminal, body=sale, idempotency_key="sale-1")
    again = post_transaction.sync_detailed(client=terminal, body=sale, idempotency_key="sale-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.to_dict() == first.parsed.to_dict()
    assert (first.parsed.amount, first.parsed.session) == ("45.50", opened.id)
    assert Transaction.objects.filter(register=counted_register).count() == 1

    # 2 × 50 + 2 × 20 + 5 × 1 + 1 × 0.50 = 145.50 counted; 100.00 + 45.50 expected.
    count = [
        models.CountLineRequest(value=value, quantity=quantity)
        for value, quantity in (("50.00", 2), ("20.00", 2), ("1.00", 5), ("0.50", 1))
    ]
    closed = close_session.sync_detailed(
        client=terminal,
        id=opened.id,
        body=models.CloseRequest(counts=count, note="end of day"),
        idempotency_key="close-1",
    )
    assert closed.status_code == 200, closed.content
    session = closed.parsed
    assert session.status == models.SessionStatusEnum.CLOSED
    assert (session.expected_cash, session.counted_cash, session.end_discrepancy) == (
        "145.50",
        "145.50",
        "0.00",
    )
    assert (session.retained_float, session.cash_removed) == ("100.00", "45.50")
    assert session.sales_by_method.to_dict() == {"cash": "45.50"}
    assert [(line.value, line.quantity) for line in session.counts.closing] == [
        ("50.00", 2),
        ("20.00", 2),
        ("1.00", 5),
        ("0.50", 1),
    ]

    stored = TrackingSession.objects.get(pk=opened.id)
    assert (stored.counted_cash, stored.end_discrepancy) == (Decimal("145.50"), Decimal("0.00"))
