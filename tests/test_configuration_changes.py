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
