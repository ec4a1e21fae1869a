"""Fixtures of the API tests: clients holding real credentials (user and device tokens)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token, issue_user_token
from cashdrawer.models import Register


def client_with(secret: str | None) -> APIClient:
    client = APIClient()
    if secret is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


@pytest.fixture
def api_client() -> APIClient:
    """No credentials."""
    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """A client that sends a fresh user token of `user`."""

    def make(user) -> APIClient:
        return client_with(issue_user_token(user=user).secret)

    return make


@pytest.fixture
def device_client_for(db, manager) -> Callable[..., APIClient]:
    """A client that sends a fresh device token of `register`, issued by `by`."""

    def make(register: Register, by=None) -> APIClient:
        return client_with(issue_device_token(register=register, by=by or manager).secret)

    return make


@pytest.fixture
def other_manager(make_user, other_location):
    """A manager of the other location only."""
    return make_user("otto", location=other_location, role="manager", first_name="Otto")


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_superuser=True, is_staff=True)
