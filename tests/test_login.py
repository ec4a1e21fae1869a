"""Logging in and out of the back-office, and where each role lands."""

from __future__ import annotations

import pytest
from django.test import Client


def test_the_login_form_is_protected_by_csrf(manager):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "maria", "password": "s3cret-pass"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session

    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/login/",
        {"username": "maria", "password": "s3cret-pass", "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_a_wrong_password_shows_the_form_again_with_an_error(client, manager):
    response = client.post("/login/", {"username": "maria", "password": "wrong"})
    assert response.status_code == 200
    assert b"form-error" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("who", "landing"),
    [("manager", "/now/"), ("accountant", "/overview/"), ("cashier", "/registers/")],
)
def test_each_role_lands_where_its_work_is(client, request, who, landing):
    client.force_login(request.getfixturevalue(who))
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == landing


def test_the_landing_page_keeps_the_location_asked_for(client, manager, location):
    client.force_login(manager)
    response = client.get(f"/?location={location.pk}")
    assert response.url == f"/overview/?location={location.pk}"


def test_staff_without_a_location_are_told_what_to_do(client, make_user):
    client.force_login(make_user("newbie"))
    response = client.get("/")
    assert response.status_code == 403
    assert b"not part of any store" in response.content


def test_pages_ask_anonymous_visitors_to_log_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_logging_out_is_a_post_and_ends_the_session(client, manager):
    client.force_login(manager)
    assert client.get("/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_language_can_be_chosen_in_the_top_bar(client, manager):
    client.force_login(manager)
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/overview/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "de"
