"""Reads that may come from the read replica, and everything else from the primary.

With `DATABASE_REPLICA_URL` set (settings.py adds a `replica` database), a view opts in
with `@reads_from_replica`: the overviews, the report API, the CSV downloads and the
charts (part of the overview). Inside such a view, and while its streamed file is
downloaded after the view returned, the app's own tables (cashdrawer, sessions_app) are
read from the replica. Everything else reads from the primary:

- every write, and every view that did not opt in: the session page, the close screen,
  the page after a POST, the API's writes;
- Django's own tables, even inside an opted-in view: users, sessions, login failures
  (axes), the shared cache; a password just changed or a login just refused must count;
- a user who has just written something: a successful request other than GET/HEAD/
  OPTIONS pins that user's reports to the primary for REPLICA_PIN_SECONDS (a timestamp
  in the user's Django session, which is saved with every request anyway), so the
  overview right after a close shows the close, however far the replica is behind;
- a replica that does not answer: the reports read from the primary instead (and the
  replica is left alone for REPLICA_RETRY_SECONDS), never a 500 or 503 because of it.

Without a replica every read and write goes to the primary, as before.

Why a context variable and not the request: the router sees only a model, so the choice
made by the view has to travel beside the call. It is set only while the view runs, and
again around each step of the streamed file (never across a `yield`), so nothing else
the worker thread does in between can inherit it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

logger = logging.getLogger(__name__)

PRIMARY = "default"
REPLICA = "replica"
# The apps whose tables a report may read from the replica. Django's own (auth,
# sessions, contenttypes, admin), axes' and the cache table always come from the primary.
REPLICA_APPS = frozenset({"cashdrawer", "sessions_app"})
# The session key holding the time (time.time()) until which the user reads the primary.
PIN_KEY = "_reads_primary_until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The database the app's reads go to right now: None (the primary, the default) or
# REPLICA inside a view that opted in.
_reading_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cashdrawer_reading_from", default=None
)
# time.monotonic() until which this process leaves a replica that did not answer alone.
_replica_down_until = 0.0


class ReplicaRouter:
    """Writes to the primary; reads of the app's tables to the replica when asked."""

    def db_for_read(self, model, **hints) -> str:
        alias = _reading_from.get()
        if alias is not None and model._meta.app_label in REPLICA_APPS:
            return alias
        return PRIMARY

    def db_for_write(self, model, **hints) -> str:
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # The replica is the primary's copy: an object read there is the same row.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        # The replica follows the primary's migrations through replication.
        return False if db == REPLICA else None


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES or REPLICA in connections.settings


def reading_from() -> str:
    """The database alias the app's reads go to right now (for raw SQL, e.g. COPY)."""
    return _reading_from.get() or PRIMARY


@contextlib.contextmanager
def _reading(alias: str | None) -> Iterator[None]:
    token = _reading_from.set(alias)
    try:
        yield
    finally:
        _reading_from.reset(token)


# --- the choice for one request -----------------------------------------------------------


def pinned_to_primary(request: Any) -> bool:
    """Whether this user wrote something a moment ago (see the module's docstring)."""
    session = getattr(request, "session", None)
    if session is None:
        return False
    try:
        until = session.get(PIN_KEY)
    except DatabaseError:
        return False
    return isinstance(until, (int, float)) and time.time() < until


def pin_to_primary(request: Any) -> None:
    session = getattr(request, "session", None)
    if session is None or settings.REPLICA_PIN_SECONDS <= 0:
        return
    # Only a session that exists already (a browser's, or one a login just made): an API
    # client without a cookie would otherwise get a new session row on every POST.
    if session.session_key is None:
        return
    session[PIN_KEY] = time.time() + settings.REPLICA_PIN_SECONDS


class PrimaryAfterWriteMiddleware:
    """Pins a user's reads to the primary for a moment after each successful write.

    Placed after SessionMiddleware, so that the session it marks is saved after it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method not in SAFE_METHODS
            and response.status_code < 400
            and replica_configured()
        ):
            pin_to_primary(request)
        return response


def _replica_answers() -> bool:
    """Whether the replica takes a connection; if not, the primary serves for a while."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as error:
        _replica_failed(error)
        return False
    return True


def _replica_failed(error: BaseException) -> None:
    global _replica_down_until
    _replica_down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
    logger.warning(
        "The read replica does not answer (%s); reports read from the primary for %s s",
        str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
        settings.REPLICA_RETRY_SECONDS,
    )
    with contextlib.suppress(DatabaseError):
        connections[REPLICA].close()


def replica_for(request: Any) -> str | None:
    """REPLICA when this request's reports may read from it, None for the primary."""
    if not replica_configured() or pinned_to_primary(request):
        return None
    return REPLICA if _replica_answers() else None


def reset_replica_state() -> None:
    """Forget a replica marked as down (tests)."""
    global _replica_down_until
    _replica_down_until = 0.0


# --- the decorator --------------------------------------------------------------------------


def _request_of(args: tuple) -> Any:
    # A view function's first argument, or a view method's second (self, request).
    return args[0] if hasattr(args[0], "META") else args[1]


def reads_from_replica(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Let a read-only view (function or method) read the app's tables from the replica.

    A streamed response keeps reading from the same database while it is downloaded.
    When the replica fails during a view that did not stream yet, the view runs again
    on the primary: it only reads, so running it twice changes nothing.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
        if _reading_from.get() is not None:  # nested (a method calling its parent's)
            return view(*args, **kwargs)
        alias = replica_for(_request_of(args))
        if alias is None:
            return view(*args, **kwargs)
        try:
            with _reading(alias):
                response = view(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:
            if not _is_replica_failure():
                raise
            _replica_failed(error)
            return view(*args, **kwargs)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _streamed_from(alias, response.streaming_content)
        return response

    return wrapper


def _is_replica_failure() -> bool:
    """An error of the replica's connection (lost, refused, a recovery conflict)."""
    replica = connections[REPLICA]
    return replica.connection is None or replica.errors_occurred or replica.is_usable() is False


def _streamed_from(alias: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks of a streamed file, each produced while reads go to `alias`."""
    iterator = iter(chunks)
    while True:
        with _reading(alias):
            try:
                chunk = next(iterator)
            except StopIteration:
                return
        yield chunk


# --- one transaction for a streamed download ----------------------------------------------


def in_one_transaction(rows: Iterable[Any]) -> Iterator[Any]:
    """`rows`, read inside one transaction of the database reads go to, held open while
    the file streams.

    Why: `.iterator()` reads through a server-side cursor. Outside a transaction Django
    declares it WITH HOLD, which PostgreSQL answers by running the whole query to its end
    and keeping the result at the commit (the first byte of a year's journal waits for
    all of it), and which a transaction-pooling PgBouncer breaks (the next FETCH may reach
    another server connection, where the cursor does not exist). Inside a transaction
    the cursor is an ordinary one: rows flow as they are fetched, and the pooler keeps the
    client on one server connection until the transaction ends. A client that leaves
    early closes the generator, which rolls the (read-only) transaction back.
    """
    alias = reading_from()  # when the download starts, inside the view's replica scope
    if connections[alias].vendor != "postgresql":
        # SQLite (`make run`) has no server-side cursors, and its transactions take the
        # write lock (transaction_mode IMMEDIATE): a download must not hold the sales up.
        yield from rows
        return
    with transaction.atomic(using=alias):
        yield from rows
