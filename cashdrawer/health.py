"""Health endpoints for load balancers and supervisors: JSON, no login, nothing secret.

- `GET /healthz`: the process answers (liveness). Touches no database, so a database
  outage never makes a supervisor restart healthy app servers.
- `GET /readyz`: this server can do its work (readiness): the database answers and no
  migration is left to apply. 503 otherwise, and the body says which check failed, never
  why in the server's words (those may name hosts). With a read replica configured
  (DATABASE_REPLICA_URL) the body says whether it answers too (`"replica"`), without
  changing the verdict: the reports read from the primary while it does not.

A readiness 503 while the database is down is expected, not an error of the code: it is
not logged by django.request (which logs every 5xx as an error), only at INFO here.
ALLOWED_HOSTS applies to these paths too: a load balancer must send a Host header that
is in it.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cashdrawer.db_router import REPLICA, replica_configured

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    database, migrations = _database(), "unknown"
    if database == "ok":
        migrations = _migrations()
    ready = database == "ok" and migrations == "ok"
    status = "ok" if ready else "unavailable"
    body = {"status": status, "database": database, "migrations": migrations}
    if replica_configured():
        body["replica"] = _database(connections[REPLICA])
    response = JsonResponse(body, status=200 if ready else 503)
    if not ready:
        logger.info("Not ready: database %s, migrations %s", database, migrations)
        response._has_been_logged = True  # see the module's docstring
    return response


def _database(database=connection) -> str:
    try:
        with database.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        logger.info("Readiness: the database does not answer: %s", error)
        return "unavailable"
    return "ok"


def _migrations() -> str:
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        logger.info("Readiness: cannot read the applied migrations: %s", error)
        return "unknown"
    return f"{len(unapplied)} unapplied" if unapplied else "ok"
