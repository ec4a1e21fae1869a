"""Configuration that sessions depend on cannot change under an open session."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from sessions_app import services


def test_a_register_with_an_open_session_cannot_change_role(register, manager, location):
    services.open_session(register=register, opening_float="150.00", by=manager)
    register.role = "main"
    register.count_method = "denominations"
    with pytest.raises(ValidationError) as refused:
        register.full_clean()
    assert "role" in refused.value.message_dict


def test_cash_tracking_cannot_be_switched_off_during_a_session(register, manager):
    services.open_session(register=register, opening_float="150.00", by=manager)
    register.cash_tracking = False
    with pytest.raises(ValidationError) as refused:
        register.full_clean()
    assert "cash_tracking" in refused.value.message_dict


def test_a_register_without_an_open_session_may_change_role(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    register.role = "main"
    register.count_method = "denominations"
    register.full_clean()


def test_a_location_with_sessions_keeps_its_currency(location, register, manager):
    location.full_clean()
    location.currency = "USD"
    location.full_clean()  # no sessions yet: still allowed
    location.currency = "EUR"
    services.open_session(register=register, opening_float="150.00", by=manager)
    location.currency = "USD"
    with pytest.raises(ValidationError) as refused:
        location.full_clean()
    assert "currency" in refused.value.message_dict


def test_a_location_with_sessions_keeps_its_time_zone(location, register, manager):
    """The time zone decides which day a session belongs to; moved, closed days would
    move with it."""
    location.timezone = "Europe/London"
    location.full_clean()  # no sessions yet: still allowed
    location.timezone = "Europe/Amsterdam"
    services.open_session(register=register, opening_float="150.00", by=manager)
    location.timezone = "Europe/London"
    with pytest.raises(ValidationError) as refused:
        location.full_clean()
    assert refused.value.message_dict == {
        "timezone": [
            "This location already has sessions in the time zone Europe/Amsterdam; its time "
            "zone can no longer change."
        ]
    }


def test_a_time_zone_change_through_the_api_is_400_and_changes_nothing(location, register, manager):
    from cashdrawer.authentication import issue_user_token
    from tests.api.conftest import client_with

    services.open_session(register=register, opening_float="150.00", by=manager)
    api = client_with(issue_user_token(user=manager).secret)
    response = api.patch(
        f"/api/v1/locations/{location.pk}/", {"timezone": "America/New_York"}, format="json"
    )
    assert response.status_code == 400
    assert "can no longer change" in response.json()["timezone"][0]
    location.refresh_from_db()
    assert location.timezone == "Europe/Amsterdam"


def test_a_register_with_history_stays_at_its_store(register, manager, other_location):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="150.00", by=manager)
    register.location = other_location
    with pytest.raises(ValidationError) as refused:
        register.full_clean()
    assert "location" in refused.value.message_dict


def test_a_register_without_history_may_move(register, other_location):
    register.location = other_location
    register.full_clean()
