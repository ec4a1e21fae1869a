"""Schema-driven fuzzing: schemathesis generates requests from the served OpenAPI schema
(valid ones and invalid ones) and sends them to the real app on PostgreSQL. No answer may
be a 5xx, and every answer must match the schema (status, content type, body, headers).

A bounded number of examples per operation keeps the run short; derandomized, so a run
is the same every time (a failure reproduces). Path ids are either generated or those
of real objects, so the handlers behind the 404 are reached too.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cashdrawer.authentication import issue_device_token, issue_user_token
from sessions_app import services

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 12  # per operation and mode; ~25 operations, two modes


@pytest.fixture
def app(settings):
    """The WSGI app, called in this thread inside the test's transaction. Django's test
    client does the same: it keeps the request signals from closing the connection (and
    with it the test's transaction) at the end of each request."""
    settings.ALLOWED_HOSTS = ["localhost"]  # the Host header schemathesis sends
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)


@pytest.fixture
def objects(location, register, main_register, sub_a, manager):
    """Real objects for path ids: an open and a closed session, a transaction, a token."""
    closed = services.open_session(register=main_register, opening_float="0", by=manager)
    services.close_session(session=closed, counts=[], by=manager)
    open_session = services.open_session(register=register, opening_float="10.00", by=manager)
    sale = services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="5.00", by=manager
    ).transaction
    device = issue_device_token(register=register, by=manager)
    return {
        "locations": location.pk,
        "registers": register.pk,
        "sessions": [open_session.pk, closed.pk],
        "transactions": sale.pk,
        "device-tokens": device.token.pk,
        "device_secret": device.secret,
    }


def _real_ids(path: str, objects: dict) -> list[int]:
    """Ids of real objects for the path's first parameter: the segment before it names
    the resource ("/sessions/{id}/close/" takes session ids)."""
    segments = path.strip("/").split("/")
    for before, segment in itertools.pairwise(segments):
        if segment.startswith("{"):
            ids = objects.get(before, [])
            return ids if isinstance(ids, list) else [ids]
    return []


BODY_WITH_REGISTER = ("/api/v1/sessions/", "/api/v1/transactions/")


def _strategy(operation, objects: dict):
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    if operation.method.upper() == "POST" and operation.path in BODY_WITH_REGISTER:
        # Mostly valid bodies for the real register, so the services are reached.
        def on_real_register(case):
            if isinstance(case.body, dict):
                case.body["register"] = objects["registers"]
            return case

        strategies.append(operation.as_strategy(GenerationMode.POSITIVE).map(on_real_register))
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        for real_id in _real_ids(operation.path, objects):
            strategies.append(
                operation.as_strategy(
                    GenerationMode.POSITIVE, path_parameters=dict.fromkeys(names, real_id)
                )
            )
    return st.one_of(strategies)


def _fuzz(api_schema, objects: dict, headers: dict, *, only=None) -> list[str]:
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if only is not None and not only(operation):
            continue

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, objects))
        def run(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            run()
        except BaseException as error:  # collect every operation's failures, report them all
            if isinstance(error, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    return failures


def _keeps_the_token(operation) -> bool:
    # Revoking the token in use would leave every later request a plain 401.
    return not (operation.method.upper() == "DELETE" and operation.path == "/api/v1/auth/token/")


def test_fuzz_as_a_manager(api_schema, objects, manager):
    headers = {"Authorization": f"Token {issue_user_token(user=manager).secret}"}
    failures = _fuzz(api_schema, objects, headers, only=_keeps_the_token)
    assert not failures, "\n\n".join(failures)


DEVICE_PATHS = ("/api/v1/sessions", "/api/v1/transactions", "/api/v1/registers/{id}/")


def test_fuzz_as_a_device(api_schema, objects):
    headers = {"Authorization": f"Token {objects['device_secret']}"}
    failures = _fuzz(
        api_schema,
        objects,
        headers,
        only=lambda operation: operation.path.startswith(DEVICE_PATHS),
    )
    assert not failures, "\n\n".join(failures)
