"""Every record says who did it: a person, or a device (DOMAIN.md, "Who did it").

A terminal's sale, adjustment, opening and close are the terminal's: the record names
its device token, on the pages, in the API and in the CSV files. The manager who issued
the token is named in the audit entry beside the device, not in the record's "by".
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from cashdrawer.authentication import issue_device_token
from cashdrawer.models import AuditEntry
from sessions_app.models import Adjustment, TrackingSession, Transaction
from tests.api.conftest import client_with
from tests.reports_fixtures import read_csv


@pytest.fixture
def terminal(register, manager):
    issued = issue_device_token(register=register, by=manager, name="Till 1 terminal")
    return issued.token, client_with(issued.secret)


def _shift_by_terminal(register, terminal):
    _token, api = terminal
    sale = api.post(
        "/api/v1/transactions/",
        {"register": register.pk, "kind": "sale", "payment_method": "cash", "amount": "12.50"},
        format="json",
    )
    assert sale.status_code == 201, sale.json()
    session_id = sale.json()["session"]
    adjusted = api.post(
        f"/api/v1/sessions/{session_id}/adjustments/",
        {"direction": "in", "amount": "5.00", "reason": "change"},
        format="json",
    )
    assert adjusted.status_code == 201, adjusted.json()
    closed = api.post(
        f"/api/v1/sessions/{session_id}/close/", {"counted_cash": "17.50"}, format="json"
    )
    assert closed.status_code == 200, closed.json()
    return TrackingSession.objects.get(pk=session_id)


def test_a_terminals_records_name_its_device_not_the_manager(register, manager, terminal):
    token, _api = terminal
    session = _shift_by_terminal(register, terminal)

    assert (session.opened_by, session.opened_by_device) == (None, token)
    assert (session.closed_by, session.closed_by_device) == (None, token)
    sale = Transaction.objects.get(session=session)
    assert (sale.recorded_by, sale.recorded_by_device) == (None, token)
    adjustment = Adjustment.objects.get(session=session)
    assert (adjustment.created_by, adjustment.created_by_device) == (None, token)


def test_the_api_says_which_kind_did_it(register, manager, terminal, client_for):
    token, api = terminal
    session = _shift_by_terminal(register, terminal)
    device = {"kind": "device", "id": token.pk, "name": "Till 1 terminal"}

    body = api.get(f"/api/v1/sessions/{session.pk}/").json()
    assert body["opened_by"] == device
    assert body["closed_by"] == device
    assert body["adjustments"][0]["created_by"] == device

    # A person's action says so too.
    by_hand = client_for(manager).post(
        "/api/v1/sessions/", {"register": register.pk, "opening_float": "10.00"}, format="json"
    )
    assert by_hand.status_code == 201, by_hand.json()
    assert by_hand.json()["opened_by"] == {"kind": "user", "id": manager.pk, "name": "Maria"}


def test_the_audit_entry_names_the_manager_beside_the_device(register, manager, terminal):
    token, _api = terminal
    session = _shift_by_terminal(register, terminal)

    entry = AuditEntry.objects.get(action="session.close", object_id=str(session.pk))
    assert entry.user == manager
    assert entry.data["device"] == {"id": token.pk, "name": "Till 1 terminal"}


def test_the_session_page_shows_the_device(client, register, manager, terminal):
    session = _shift_by_terminal(register, terminal)
    client.force_login(manager)

    html = client.get(reverse("reports:session", args=[session.pk])).content.decode()

    # Opened, closed, the sale and the adjustment: four times the device, never Maria.
    assert html.count("Till 1 terminal") >= 4
    assert 'class="badge device"' in html


def test_the_csv_files_name_the_device(client, register, manager, terminal, api_client):
    session = _shift_by_terminal(register, terminal)
    day = session.opened_at.astimezone(register.location.tzinfo).date().isoformat()
    params = {"location": register.location_id, "from": day, "to": day}
    api_client.force_authenticate(manager)

    sessions = read_csv(api_client.get(reverse("report-sessions-csv"), params))
    assert sessions[0]["opened_by"] == "Till 1 terminal (device)"
    assert sessions[0]["closed_by"] == "Till 1 terminal (device)"
    journal = read_csv(api_client.get(reverse("report-journal-csv"), params))
    assert {row["staff"] for row in journal} == {"Till 1 terminal (device)"}
