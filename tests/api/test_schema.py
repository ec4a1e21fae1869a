"""The served OpenAPI schema: valid, without generator warnings, covering every route under
/api/v1/ with every method, its errors and the Idempotency-Key; exact about what the
server accepts (the amount and text patterns read as the services read, one of two
fields, clean component names); and /api/docs/ renders.

tests/api/test_schema_live.py runs schemathesis against the live server with it;
tests/api/test_generated_client.py generates a client from it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import jsonschema
import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from cashdrawer.api.base import AmountInput, TextField, not_found
from cashdrawer.money import CEILING_MAX, FIGURE_LIMIT, AmountError, parse_amount
from cashdrawer.scope import FIRST_DATE, LAST_DATE
from sessions_app import services
from sessions_app.api import CorrectionAmountInput
from sessions_app.exceptions import InvalidInput

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_and_generates_without_warnings(tmp_path):
    # --fail-on-warn: an untyped body, an unresolvable field or an enum collision fails.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


def _routes(patterns, prefix: str = "") -> list[tuple[str, object]]:
    """(path template, callback) of every URL pattern, with `{name}` for parameters."""
    found = []
    for pattern in patterns:
        route = str(pattern.pattern)
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)  # router regexes
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)  # path("<int:pk>/")
        route = route.lstrip("^").rstrip("$").replace("\\.", ".")
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern):
            found.append((prefix + route, pattern.callback))
    return found


OPERATIONS = {"get", "post", "put", "patch", "delete"}  # not head and options: no bodies


def _methods(callback) -> set[str]:
    if hasattr(callback, "actions"):  # a viewset's route: its method -> action map
        return set(callback.actions) & set(callback.cls.http_method_names) & OPERATIONS
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    names = OPERATIONS & set(view_class.http_method_names)
    return {name for name in names if hasattr(view_class, name)}


def _api_v1_routes() -> dict[str, set[str]]:
    routes = {}
    for route, callback in _routes(get_resolver().url_patterns):
        if not route.startswith("api/v1/") or callback is not_found:
            continue
        # The schema names every path parameter {id}; compare the shapes, not the names.
        path = "/" + re.sub(r"\{\w+\}", "{id}", route)
        routes.setdefault(path, set()).update(_methods(callback))
    return routes


def test_the_schema_covers_every_route_and_method_under_api_v1(schema):
    routes = _api_v1_routes()
    assert len(routes) >= 15
    documented = {
        re.sub(r"\{\w+\}", "{id}", path): {m for m in operations if m != "parameters"}
        for path, operations in schema["paths"].items()
    }
    assert set(documented) == set(routes)
    for path, methods in routes.items():
        assert documented[path] == methods, path


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_post_documents_the_idempotency_key_and_its_errors(schema):
    posts = [(p, o) for p, m, o in _operations(schema) if m == "post"]
    assert len(posts) >= 7
    for path, operation in posts:
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        assert {"400", "409", "415", "422"} <= set(operation["responses"]), path
        assert "requestBody" in operation, path
        for status, response in operation["responses"].items():
            # Only an answer that took effect is stored, so only a 2xx is ever a replay.
            replayed = "Idempotent-Replayed" in response.get("headers", {})
            assert replayed == status.startswith("2"), (path, status)


def test_every_operation_documents_its_errors_and_typed_bodies(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        # Any request may meet bad credentials (even on the token endpoint, when it sends
        # an Authorization header), a refusal, and a database outage.
        assert {"401", "403", "503"} <= set(responses), (method, path)
        if "{" in path or (method == "get" and not path.startswith("/api/v1/auth/")):
            assert "404" in responses, (method, path)
        if method in ("post", "patch"):
            assert "415" in responses, (method, path)
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
        assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
        assert responses["503"]["headers"]["Retry-After"]["required"] is True
        for status, response in responses.items():
            if status == "204" or (status == "200" and path.endswith(".csv")):
                continue
            content = response.get("content", {}).get("application/json")
            assert content and "schema" in content, (method, path, status)
            ref = content["schema"].get("$ref", "")
            if status == "400":
                assert ref.endswith("/ValidationError"), (method, path)
            elif status[0] in "45":
                assert ref.endswith("/Error"), (method, path, status)


def test_money_is_a_string_and_errors_have_their_shapes(schema):
    components = schema["components"]["schemas"]
    assert components["Session"]["properties"]["expected_cash"]["type"] == "string"
    assert components["Session"]["properties"]["expected_cash"]["nullable"] is True
    assert components["Transaction"]["properties"]["amount"]["type"] == "string"
    assert set(components["Error"]["required"]) == {"detail", "code"}
    assert components["ValidationError"]["additionalProperties"]["type"] == "array"
    amount_in = components["TransactionRequest"]["properties"]["amount"]
    assert {option["type"] for option in amount_in["oneOf"]} == {"string", "number"}


def test_every_component_has_one_clean_name(schema):
    names = set(schema["components"]["schemas"])
    assert not [name for name in names if "RequestRequest" in name or "Serializer" in name]
    bodies = {
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
        for _path, _method, operation in _operations(schema)
        if "requestBody" in operation
    }
    assert bodies == {
        "TokenRequest",
        "LocationRequest",
        "PatchedLocationRequest",
        "RegisterRequest",
        "PatchedRegisterRequest",
        "DeviceTokenRequest",
        "OpenSessionRequest",
        "AdjustmentRequest",
        "CloseRequest",
        "TransactionRequest",
        "CorrectionRequest",
        "DiscrepancyNoteRequest",
        "AlertSeenRequest",
    }
    # A component speaks for itself: no docstring of a base class about the code.
    assert "description" not in schema["components"]["schemas"]["Register"]


def test_ids_and_pages_start_at_1(schema):
    components = schema["components"]["schemas"]
    for component, field in [
        ("TransactionRequest", "register"),
        ("OpenSessionRequest", "register"),
        ("RegisterRequest", "location"),
        ("RegisterRequest", "main_register"),
    ]:
        assert components[component]["properties"][field]["minimum"] == 1, (component, field)
    sessions = {p["name"]: p for p in schema["paths"]["/api/v1/sessions/"]["get"]["parameters"]}
    for name in ("location", "register", "page", "page_size"):
        assert sessions[name]["schema"]["minimum"] == 1, name
        # An empty filter (?location=) filters nothing, as the server reads it.
        assert sessions[name]["allowEmptyValue"] is True, name
    assert sessions["opened_from"]["schema"]["pattern"] == r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def test_the_token_scheme_is_documented(schema):
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": scheme["description"],
    }
    assert "Token <key>" in scheme["description"]
    sessions = schema["paths"]["/api/v1/sessions/"]["get"]
    assert {"tokenAuth": []} in sessions["security"]


def test_the_docs_render_offline(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    # Swagger UI comes from drf-spectacular-sidecar's static files, not from a CDN.
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    # Nothing inline (the Content-Security-Policy allows none): the start-up script, which
    # names the schema, is a request of its own.
    assert re.findall(r"<script\b(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page
    assert '<script src="/api/docs/?script="></script>' in page
    script = api_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


# --- the schema reads input as the server does ------------------------------------------

_AMOUNT_TEXTS = st.one_of(
    st.text(alphabet="0123456789.", max_size=42),
    st.text(alphabet="0123456789.-+ e_\u0664", max_size=6),
    st.decimals(min_value=0, max_value=10**14, allow_nan=False, places=2).map(str),
    st.sampled_from(
        [
            "1000000000",
            "1000000000.00",
            "1000000000.01",
            "0001000000000.0",
            "999999999.999",
            "9999999999999.99",
            "10000000000000",
            "0",
            "0.00",
            ".0",
            "1.",
            ".",
            "",
            "-0",
            "1.500",
            "1.501",
            "0" * 40 + "1",
            " 1",
            "1 ",
        ]
    ),
)


def _read_by_the_server(text: str, limit: Decimal, positive: bool, signed: bool = False) -> bool:
    """What an amount field and then the service make of a text (EUR, the widest ceiling).
    A signed amount (a correction) is read as the API reads it, and is never 0."""
    field = CorrectionAmountInput() if signed else AmountInput(limit=limit, positive=positive)
    try:
        field.run_validation(text)
        amount = parse_amount(
            text,
            currency="EUR",
            allow_negative=signed,
            ceiling=None if limit == FIGURE_LIMIT else limit,
        )
    except (ValidationError, AmountError):
        return False
    return amount != 0 if signed else amount > 0 if positive else True


@pytest.mark.parametrize(
    ("component", "field", "limit", "positive"),
    [
        ("TransactionRequest", "amount", CEILING_MAX, False),
        ("AdjustmentRequest", "amount", CEILING_MAX, True),
        ("CloseRequest", "counted_cash", FIGURE_LIMIT, False),
    ],
)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=_AMOUNT_TEXTS)
def test_an_amount_pattern_admits_exactly_what_the_server_reads(
    schema, component, field, limit, positive, text
):
    string = schema["components"]["schemas"][component]["properties"][field]["oneOf"][0]
    admitted = len(text) <= string["maxLength"] and re.search(string["pattern"], text)
    assert bool(admitted) == _read_by_the_server(text, limit, positive), text


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.one_of(_AMOUNT_TEXTS, _AMOUNT_TEXTS.map(lambda text: "-" + text)))
def test_a_corrections_pattern_admits_exactly_the_signed_amounts_the_server_reads(schema, text):
    amount = schema["components"]["schemas"]["CorrectionRequest"]["properties"]["amount"]
    string = amount["oneOf"][0]
    admitted = len(text) <= string["maxLength"] and re.search(string["pattern"], text)
    assert bool(admitted) == _read_by_the_server(text, CEILING_MAX, False, signed=True), text


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\ufeff\x00"),
            # A lone surrogate is no Unicode character, so no JSON Schema string holds
            # one; DRF refuses it.
            st.characters(exclude_categories=["Cs"]),
        ),
        max_size=205,
    )
)
def test_the_pattern_of_a_required_text_admits_exactly_what_the_service_keeps(schema, text):
    reason = schema["components"]["schemas"]["AdjustmentRequest"]["properties"]["reason"]
    admitted = len(text) <= reason["maxLength"] and re.search(reason["pattern"], text)
    try:
        TextField(max_length=200, required_text=True).run_validation(text)
        services._text(text, field="reason", max_length=200, required=True)
        kept = True
    except (ValidationError, InvalidInput):
        kept = False
    assert bool(admitted) == kept, repr(text)


def _json_schema(node):
    """OpenAPI 3.0's `nullable` as JSON Schema says it."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def _valid(schema: dict, component: str, body: dict) -> bool:
    root = {
        "components": _json_schema(schema["components"]),
        "$ref": f"#/components/schemas/{component}",
    }
    return jsonschema.Draft4Validator(root).is_valid(body)


def test_a_float_is_a_total_or_a_count_not_both_nor_neither(schema):
    count = [{"value": "50.00", "quantity": 3}]
    assert _valid(schema, "OpenSessionRequest", {"register": 1, "opening_float": "150.00"})
    assert _valid(schema, "OpenSessionRequest", {"register": 1, "opening_counts": count})
    both = {"register": 1, "opening_counts": count, "opening_float": "1.00"}
    assert not _valid(schema, "OpenSessionRequest", both)
    assert _valid(schema, "OpenSessionRequest", {**both, "opening_float": None})
    assert not _valid(schema, "OpenSessionRequest", {"register": 1})
    assert _valid(schema, "CloseRequest", {})  # not counted
    assert _valid(schema, "CloseRequest", {"counted_cash": "200.00"})
    assert _valid(schema, "CloseRequest", {"counts": count, "retained_float": "100"})
    assert not _valid(schema, "CloseRequest", {"counts": count, "counted_cash": "150.00"})


def test_a_new_registers_own_rules_are_in_the_schema(schema):
    assert _valid(schema, "RegisterRequest", {"location": 1, "name": "Till", "code": "t"})
    assert _valid(
        schema,
        "RegisterRequest",
        {"location": 1, "name": "Sub", "code": "s", "role": "sub", "main_register": 2},
    )
    for wrong in [
        {"role": "sub"},
        {"role": "sub", "main_register": None},
        {"main_register": 2},
        {"role": "main", "main_register": 2},
        {"role": "sub", "main_register": 2, "default_float": "10.00"},
        {"role": "main", "count_method": "total"},
    ]:
        body = {"location": 1, "name": "Till", "code": "t", **wrong}
        assert not _valid(schema, "RegisterRequest", body), wrong


def test_a_report_day_lies_in_the_years_the_reports_cover(schema):
    parameters = schema["paths"]["/api/v1/reports/discrepancy/"]["get"]["parameters"]
    pattern = next(p for p in parameters if p["name"] == "from")["schema"]["pattern"]
    for day, admitted in [
        (FIRST_DATE, True),
        (LAST_DATE, True),
        (FIRST_DATE - dt.timedelta(days=1), False),
        (LAST_DATE + dt.timedelta(days=1), False),
    ]:
        assert bool(re.search(pattern, day.isoformat())) == admitted, day
