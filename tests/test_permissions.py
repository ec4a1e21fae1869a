"""Visibility and roles by location membership (cashdrawer/selectors.py)."""

from __future__ import annotations

from cashdrawer import selectors
from sessions_app import services


def test_a_user_sees_only_the_locations_they_belong_to(location, other_location, manager):
    assert list(selectors.locations_for(manager)) == [location]


def test_a_superuser_sees_every_location(location, other_location, make_user):
    admin = make_user("root", is_superuser=True, is_staff=True)
    assert set(selectors.locations_for(admin)) == {location, other_location}
    assert selectors.can_manage(admin, other_location)


def test_anonymous_and_inactive_users_see_nothing(location, make_user):
    from django.contrib.auth.models import AnonymousUser

    assert not selectors.locations_for(AnonymousUser()).exists()
    former = make_user("former", location=location, role="manager", is_active=False)
    assert not selectors.locations_for(former).exists()
    assert selectors.role_at(former, location) is None


def test_roles_decide_operating_and_reading(location, manager, cashier, accountant):
    assert selectors.can_operate_registers(manager, location)
    assert selectors.can_operate_registers(cashier, location)
    assert not selectors.can_operate_registers(accountant, location)
    assert selectors.can_read_reports(manager, location)
    assert selectors.can_read_reports(accountant, location)
    assert not selectors.can_read_reports(cashier, location)
    assert selectors.can_manage(manager, location)
    assert not selectors.can_manage(cashier, location)
    assert not selectors.can_manage(accountant, location)


def test_sessions_of_another_location_are_not_in_a_users_queryset(
    location, other_location, make_register, manager
):
    here = make_register(location, default_float="0.00")
    there = make_register(other_location, default_float="0.00")
    mine = services.open_session(register=here, opening_float="0", by=manager)
    services.open_session(register=there, opening_float="0", by=None)
    assert list(selectors.sessions_for(manager)) == [mine]
    assert list(selectors.registers_for(manager)) == [here]
