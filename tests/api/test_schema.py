"""The served OpenAPI schema: valid, without generator warnings, covering every route under
/api/v1/ with every method, its errors and the Idempotency-Key; and /api/docs/ renders."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from cashdrawer.api.base import not_found

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
        assert {"400", "409", "422"} <= set(operation["responses"]), path
        assert "requestBody" in operation, path


def test_every_operation_documents_its_errors_and_typed_bodies(schema):
    for path, method, operation in _operations(schema):
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/reports/"):
            continue  # the report endpoints are documented by their own tests
        responses = operation["responses"]
        if path != "/api/v1/auth/token/":
            assert {"401", "403", "404"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status == "204":
                continue
            content = response.get("content", {}).get("application/json")
            assert content and "schema" in content, (method, path, status)
            ref = content["schema"].get("$ref", "")
            if status == "400":
                assert ref.endswith("/ValidationError"), (method, path)
            elif status.startswith("4"):
                assert ref.endswith("/Error"), (method, path, status)


def test_money_is_a_string_and_errors_have_their_shapes(schema):
    components = schema["components"]["schemas"]
    assert components["Session"]["properties"]["expected_cash"]["type"] == "string"
    assert components["Session"]["properties"]["expected_cash"]["nullable"] is True
    assert components["Transaction"]["properties"]["amount"]["type"] == "string"
    assert set(components["Error"]["required"]) == {"detail", "code"}
    assert components["ValidationError"]["additionalProperties"]["type"] == "array"
    amount_in = components["TransactionRequestRequest"]["properties"]["amount"]
    assert {option["type"] for option in amount_in["oneOf"]} == {"string", "number"}


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
    assert "/api/schema/" in page
