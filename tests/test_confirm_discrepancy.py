"""A second look before a large discrepancy (issue 11): a count whose end or total
discrepancy is larger than the location's threshold is booked only when confirmed with a
note; on a blind session the closer is never asked and explains afterwards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.urls import reverse

from cashdrawer.models import AuditEntry
from sessions_app import services
from sessions_app.exceptions import (
    DiscrepancyAlreadyExplained,
    DiscrepancyNeedsConfirmation,
    DiscrepancyNoteNotNeeded,
    InvalidInput,
    SessionNotClosed,
)
from sessions_app.models import CountLine, DiscrepancyNote, TrackingSession
from tests.api.conftest import client_with

pytestmark = pytest.mark.django_db

THRESHOLD = Decimal("10.00")


@pytest.fixture
def store(location):
    """The shared location with the default threshold (conftest's is lenient)."""
    location.discrepancy_threshold = THRESHOLD
    location.save()
    return location


@pytest.fixture
def till(store, make_register):
    """Counted as a total, no default float: expected 783.65 once the day is done."""
    return make_register(store, name="Till", code="till", count_method="total")


@pytest.fixture
def blind_till(store, make_register):
    return make_register(
        store, name="Blind till", code="blind", count_method="total", blind_close=True
    )


def _day(register, by, *, sales: str = "783.65") -> TrackingSession:
    session = services.open_session(register=register, opening_float="0.00", by=by)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount=sales, by=by
    )
    session.refresh_from_db()
    return session


# --- the service -------------------------------------------------------------------------


def test_a_difference_of_exactly_the_threshold_closes_without_confirmation(till, manager):
    session = _day(till, manager)
    closed = services.close_session(session=session, counted="773.65", by=manager)
    assert closed.end_discrepancy == Decimal("-10.00") and closed.status == "closed"


def test_a_cent_past_the_threshold_is_refused_and_nothing_is_written(till, manager):
    session = _day(till, manager)
    audits = AuditEntry.objects.count()
    with pytest.raises(DiscrepancyNeedsConfirmation) as refused:
        services.close_session(session=session, counted="773.64", by=manager)
    error = refused.value
    assert error.status == 409 and error.code == "discrepancy_needs_confirmation"
    assert (error.expected, error.counted) == (Decimal("783.65"), Decimal("773.64"))
    assert error.end_discrepancy == error.total_discrepancy == Decimal("-10.01")
    assert error.figures()["threshold"] == "10.00"
    assert "10.01 short" in error.message and "10.00" in error.message
    session.refresh_from_db()
    assert session.is_open and session.counted_cash is None and session.closing_number is None
    assert AuditEntry.objects.count() == audits


def test_over_is_checked_as_well_as_short(till, manager):
    session = _day(till, manager)
    with pytest.raises(DiscrepancyNeedsConfirmation) as refused:
        services.close_session(session=session, counted="800.00", by=manager)
    assert "16.35 over" in refused.value.message


def test_confirming_without_a_note_is_invalid_input_on_the_note(till, manager):
    session = _day(till, manager)
    with pytest.raises(InvalidInput) as refused:
        services.close_session(
            session=session, counted="50.00", note="  ", confirm_discrepancy=True, by=manager
        )
    assert refused.value.field == "note" and refused.value.status == 400
    session.refresh_from_db()
    assert session.is_open


def test_confirmed_with_a_note_the_close_is_booked_with_the_note_as_closing_note(till, manager):
    session = _day(till, manager)
    closed = services.close_session(
        session=session,
        counted="50.00",
        note="The envelope went to the bank early.",
        confirm_discrepancy=True,
        by=manager,
    )
    assert closed.end_discrepancy == Decimal("-733.65")
    assert closed.closing_note == "The envelope went to the bank early."
    entry = AuditEntry.objects.filter(action="session.close", object_id=str(closed.pk)).get()
    assert entry.data["discrepancy_confirmed"] is True


def test_the_total_discrepancy_with_the_start_part_is_checked_too(till, manager):
    first = _day(till, manager, sales="100.00")
    services.close_session(session=first, counted="100.00", retained_float="100.00", by=manager)
    # Opened with 6.00 less than was left: start discrepancy -6.00.
    second = services.open_session(register=till, opening_float="94.00", by=manager)
    assert second.start_discrepancy == Decimal("-6.00")
    # End -5.00 is within the threshold; the total -11.00 is not.
    with pytest.raises(DiscrepancyNeedsConfirmation) as refused:
        services.close_session(session=second, counted="89.00", by=manager)
    assert refused.value.end_discrepancy == Decimal("-5.00")
    assert refused.value.total_discrepancy == Decimal("-11.00")
    assert "total discrepancy" in refused.value.message
    closed = services.close_session(
        session=second, counted="89.00", note="Float short", confirm_discrepancy=True, by=manager
    )
    assert closed.total_discrepancy == Decimal("-11.00")


def test_a_close_without_a_count_is_not_checked(till, manager):
    session = _day(till, manager)
    closed = services.close_session(session=session, by=manager)
    assert closed.end_discrepancy is None and closed.status == "closed"


def test_only_the_main_registers_close_is_checked(store, make_register, manager):
    main = make_register(store, name="Main", code="main", role="main")
    sub = make_register(store, name="Sub", code="sub", role="sub", main_register=main)
    main_session = services.open_session(register=main, opening_float="0.00", by=manager)
    sub_session = services.open_session(register=sub, opening_float="0.00", by=manager)
    services.record_transaction(
        register=sub, kind="sale", payment_method="cash", amount="300.00", by=manager
    )
    # A sub session is never counted: its close transfers 300.00 and asks nothing.
    services.close_session(session=sub_session, by=manager)
    main_session.refresh_from_db()
    with pytest.raises(DiscrepancyNeedsConfirmation) as refused:
        services.close_session(session=main_session, counts=[("50.00", 5)], by=manager)
    assert refused.value.expected == Decimal("300.00")
    assert refused.value.end_discrepancy == Decimal("-50.00")
    assert not CountLine.objects.filter(session=main_session).exists()
    closed = services.close_session(
        session=main_session,
        counts=[("50.00", 5)],
        note="A 50 missing",
        confirm_discrepancy=True,
        by=manager,
    )
    assert closed.end_discrepancy == Decimal("-50.00")


# --- blind: never asked, explained afterwards -----------------------------------------------


def test_a_blind_closer_is_never_asked_and_explains_once_afterwards(blind_till, cashier):
    session = _day(blind_till, cashier)
    closed = services.close_session(
        session=session, counted="50.00", sees_expected=False, by=cashier
    )
    assert closed.status == "closed" and closed.end_discrepancy == Decimal("-733.65")
    note = services.explain_discrepancy(session=closed, note="  Robbed at 5 pm.  ", by=cashier)
    assert note.text == "Robbed at 5 pm." and note.created_by == cashier
    with pytest.raises(DiscrepancyAlreadyExplained):
        services.explain_discrepancy(session=closed, note="Again", by=cashier)
    assert AuditEntry.objects.filter(action="session.explain_discrepancy").count() == 1


def test_a_manager_on_a_blind_session_sees_the_figures_and_is_asked(blind_till, manager):
    session = _day(blind_till, manager)
    with pytest.raises(DiscrepancyNeedsConfirmation):
        services.close_session(session=session, counted="50.00", sees_expected=True, by=manager)


def test_who_may_explain_and_when(blind_till, till, cashier, manager, make_user, store):
    other_cashier = make_user("cora", location=store, role="cashier")
    session = _day(blind_till, cashier)
    with pytest.raises(SessionNotClosed):
        services.explain_discrepancy(session=session, note="Too early", by=cashier)
    closed = services.close_session(
        session=session, counted="50.00", sees_expected=False, by=cashier
    )
    with pytest.raises(PermissionDenied):
        services.explain_discrepancy(session=closed, note="Not mine", by=other_cashier)
    with pytest.raises(InvalidInput):
        services.explain_discrepancy(session=closed, note=" ", by=cashier)
    assert services.explain_discrepancy(session=closed, note="Asked Carl", by=manager)
    # Within the threshold there is nothing to explain.
    even = services.close_session(session=_day(till, cashier), counted="783.65", by=cashier)
    with pytest.raises(DiscrepancyNoteNotNeeded):
        services.explain_discrepancy(session=even, note="All fine", by=cashier)


def test_a_discrepancy_note_never_changes(blind_till, cashier):
    closed = services.close_session(
        session=_day(blind_till, cashier), counted="50.00", sees_expected=False, by=cashier
    )
    note = services.explain_discrepancy(session=closed, note="Robbed", by=cashier)
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
        DiscrepancyNote.objects.filter(pk=note.pk).update(text="Nothing happened")
    with pytest.raises(DatabaseError, match="pgtrigger"), transaction.atomic():
        DiscrepancyNote.objects.filter(pk=note.pk).delete()


# --- the API -------------------------------------------------------------------------------


def _api(user):
    from cashdrawer.authentication import issue_user_token

    return client_with(issue_user_token(user=user).secret)


def test_the_api_answers_409_with_the_figures_and_closes_when_confirmed(till, manager):
    session = _day(till, manager)
    api = _api(manager)
    url = f"/api/v1/sessions/{session.pk}/close/"
    response = api.post(url, {"counted_cash": "50.00"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "discrepancy_needs_confirmation"
    assert body["end_discrepancy"] == "-733.65" and body["total_discrepancy"] == "-733.65"
    assert body["threshold"] == "10.00" and body["expected_cash"] == "783.65"
    assert "733.65 short" in body["detail"]

    response = api.post(url, {"counted_cash": "50.00", "confirm_discrepancy": True}, format="json")
    assert response.status_code == 400 and "note" in response.json()

    response = api.post(
        url,
        {"counted_cash": "50.00", "confirm_discrepancy": True, "note": "Bank run"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["closing_note"] == "Bank run"
    assert response.json()["note_requested"] is False


def test_a_refused_close_does_not_keep_its_idempotency_key(till, manager):
    session = _day(till, manager)
    api = _api(manager)
    url = f"/api/v1/sessions/{session.pk}/close/"
    key = {"HTTP_IDEMPOTENCY_KEY": "close-till-1"}
    assert api.post(url, {"counted_cash": "50.00"}, format="json", **key).status_code == 409
    # The terminal asks the cashier, then sends the confirmed close with the same key.
    confirmed = {"counted_cash": "50.00", "confirm_discrepancy": True, "note": "Bank run"}
    response = api.post(url, confirmed, format="json", **key)
    assert response.status_code == 200 and response.json()["status"] == "closed"
    again = api.post(url, confirmed, format="json", **key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"


def test_a_blind_api_closer_gets_no_figures_first_and_is_asked_for_a_note(blind_till, cashier):
    session = _day(blind_till, cashier)
    api = _api(cashier)
    response = api.post(
        f"/api/v1/sessions/{session.pk}/close/", {"counted_cash": "50.00"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["note_requested"] is True
    url = f"/api/v1/sessions/{session.pk}/discrepancy-note/"
    assert api.post(url, {"note": ""}, format="json").status_code == 400
    response = api.post(url, {"note": "Robbed at 5 pm"}, format="json")
    assert response.status_code == 201 and response.json()["text"] == "Robbed at 5 pm"
    again = api.post(url, {"note": "Again"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "discrepancy_already_explained"
    shown = api.get(f"/api/v1/sessions/{session.pk}/").json()
    assert shown["discrepancy_note"]["text"] == "Robbed at 5 pm"
    assert shown["discrepancy_note"]["created_by"]["id"] == cashier.pk


# --- the close page ------------------------------------------------------------------------


def test_the_close_page_asks_with_the_amount_and_requires_the_note(client, till, manager):
    session = _day(till, manager)
    client.force_login(manager)
    url = reverse("operations:close", args=[session.pk])
    response = client.post(url, {"method": "total", "counted": "50.00", "note": ""})
    assert response.status_code == 409
    page = response.content.decode()
    assert 'id="confirm-discrepancy"' in page
    assert "733.65 short" in page and "783.65" in page and "10.00" in page
    assert 'value="50.00"' in page  # what was typed is kept
    session.refresh_from_db()
    assert session.is_open

    response = client.post(
        url, {"method": "total", "counted": "50.00", "note": "", "confirm_discrepancy": "1"}
    )
    assert response.status_code == 409
    assert "Explain the difference in a note to confirm it." in response.content.decode()
    session.refresh_from_db()
    assert session.is_open

    response = client.post(
        url, {"method": "total", "counted": "50.00", "note": "Bank run", "confirm_discrepancy": "1"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == "closed" and session.closing_note == "Bank run"


def test_after_a_blind_close_past_the_threshold_the_page_asks_what_happened(
    client, blind_till, cashier
):
    session = _day(blind_till, cashier)
    client.force_login(cashier)
    response = client.post(
        reverse("operations:close", args=[session.pk]), {"method": "total", "counted": "50.00"}
    )
    explain = reverse("operations:explain", args=[session.pk])
    assert response.status_code == 302 and response["Location"] == explain
    page = client.get(explain).content.decode()
    assert "does not match what was expected closely enough" in page
    assert "733.65" not in page and "783.65" not in page
    session_page = reverse("reports:session", args=[session.pk])
    assert 'id="explain-link"' in client.get(session_page).content.decode()
    assert client.post(explain, {"note": ""}).status_code == 400
    response = client.post(explain, {"note": "Robbed at 5 pm"})
    assert response.status_code == 302
    assert DiscrepancyNote.objects.get(session=session).text == "Robbed at 5 pm"
    shown = client.get(response["Location"]).content.decode()
    assert "Robbed at 5 pm" in shown and 'id="explain-link"' not in shown


def test_a_terminal_on_a_blind_register_closes_and_explains_with_its_device_token(
    blind_till, manager, cashier
):
    from cashdrawer.authentication import issue_device_token

    terminal = client_with(issue_device_token(register=blind_till, by=manager).secret)
    session = _day(blind_till, cashier)
    response = terminal.post(
        f"/api/v1/sessions/{session.pk}/close/", {"counted_cash": "50.00"}, format="json"
    )
    assert response.status_code == 200 and response.json()["note_requested"] is True
    # The cashier did not close it: only the terminal (or a manager) explains it.
    refused = _api(cashier).post(
        f"/api/v1/sessions/{session.pk}/discrepancy-note/", {"note": "Me"}, format="json"
    )
    assert refused.status_code == 403
    response = terminal.post(
        f"/api/v1/sessions/{session.pk}/discrepancy-note/", {"note": "Drawer jammed"}
    )
    assert response.status_code == 201
    assert response.json()["created_by"]["kind"] == "device"
