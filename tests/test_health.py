"""/healthz (the process answers) and /readyz (the database answers, nothing to migrate):
JSON, no login, no secrets, and a readiness 503 is not logged as an error."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client

from tests.test_outage import unreachable_database


def _errors(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_healthz_answers_without_login_and_without_the_database(client):
    # No django_db mark: a query would raise "Database access not allowed".
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_with_the_database_up_and_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_while_the_database_is_down_and_logs_no_error(caplog):
    client = Client()
    with unreachable_database():
        ready = client.get("/readyz")
        alive = client.get("/healthz")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "migrations": "unknown",
    }
    assert "cashdrawer-socket-dir" not in ready.content.decode()  # the server's words stay out
    assert alive.status_code == 200
    assert not _errors(caplog)
    assert client.get("/readyz").status_code == 200  # back by itself


@pytest.mark.django_db
def test_readyz_is_503_while_a_migration_is_not_applied(client, caplog):
    app, name = sorted(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())[0]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, name])

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "migrations": "1 unapplied",
    }
    assert not _errors(caplog)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_only_read(client, path):
    assert client.post(path).status_code == 405


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_head_too(client, path):
    assert client.head(path).status_code == 200


def test_health_endpoints_keep_to_allowed_hosts(client):
    """A load balancer must send a Host that ALLOWED_HOSTS names (docs/DEPLOYMENT.md)."""
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 400
