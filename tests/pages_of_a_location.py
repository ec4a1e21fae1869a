"""Every URL that shows something of one location: back-office pages, API reads, CSV files
and admin pages, derived from the URL confs.

Each named URL pattern is either *visited* (a function below turns the location's objects
into the URLs to GET, and who GETs them) or *excluded* with the reason why it shows
nothing of a location. `unaccounted()` names the patterns that are neither, so a new page
cannot be forgotten silently: tests/test_no_input_breaks_a_page.py fails on them, and also
on a visited pattern that was never actually requested.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from alerts.models import Alert
from cashdrawer.models import ApiToken, AuditEntry, Location, Membership, Register
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)

# Who requests a URL; the test holds a client for each.
MANAGER = "manager"  # browser session of a manager of the location (and of another one)
CASHIER = "cashier"  # browser session of a cashier: blind-close pages look different
ADMIN = "admin"  # browser session of a superuser
TOKEN = "token"  # the manager's API user token
DEVICE = "device"  # the device token of the location's blind-close register


@dataclass(frozen=True)
class Visit:
    name: str  # the URL pattern's name, with its namespace
    url: str
    who: str
    follow: bool = False  # a redirect is fine if it ends on a page that answers 200


@dataclass
class Objects:
    """What a location holds, read fresh from the database."""

    location: Location
    registers: list[Register]
    sessions: list[TrackingSession]
    transactions: list[Transaction]
    adjustments: list[Adjustment]
    count_lines: list[CountLine]
    corrections: list[Correction]
    transfers: list[ClosingTransfer]
    audit_entries: list[AuditEntry]
    tokens: list[ApiToken]
    alerts: list[Alert]
    memberships: list[Membership]
    staff: list
    device_register: Register  # the register whose device token reads as DEVICE
    first: dt.date  # a range of local days that holds every session
    last: dt.date
    touched: set[tuple[str, int]] | None = None  # (model name, pk); None: all

    def pick(self, objects: list, *, deep: bool = True, children: list | None = None) -> list:
        """The objects whose pages may have changed: those touched (stored or changed,
        or with `deep` holding a touched row: a register's sessions, a session's
        transactions; or one of `children`), else the latest one, so every kind of page
        is requested."""
        if self.touched is None:
            return objects
        if children is not None:
            touched = {
                child.register_id
                for child in children
                if (type(child).__name__, child.pk) in self.touched
            }
            chosen = [obj for obj in objects if obj.pk in touched]
        else:
            chosen = [obj for obj in objects if self._touched(obj, deep=deep)]
        return chosen or objects[-1:]

    def _touched(self, obj, *, deep: bool = True) -> bool:
        assert self.touched is not None
        if (type(obj).__name__, obj.pk) in self.touched:
            return True
        if not deep:
            return False
        if isinstance(obj, Register):
            return any(
                getattr(child, "register_id", None) == obj.pk and self._touched(child)
                for child in [*self.sessions, *self.transactions, *self.tokens]
            )
        if isinstance(obj, TrackingSession):
            return any(
                getattr(child, "session_id", None) == obj.pk
                and (type(child).__name__, child.pk) in self.touched
                for child in [
                    *self.transactions,
                    *self.adjustments,
                    *self.count_lines,
                    *self.corrections,
                ]
            ) or any(
                obj.pk in (t.main_session_id, t.sub_session_id)
                and ("ClosingTransfer", t.pk) in self.touched
                for t in self.transfers
            )
        return False


def objects_of(
    location: Location,
    *,
    device_register: Register,
    touched: set[tuple[str, int]] | None = None,
) -> Objects:
    location = Location.objects.get(pk=location.pk)
    sessions = list(TrackingSession.objects.filter(location=location).order_by("pk"))
    session_ids = [s.pk for s in sessions]
    registers = list(Register.objects.filter(location=location).order_by("pk"))
    memberships = list(Membership.objects.filter(location=location).order_by("pk"))
    today = timezone.now().astimezone(location.tzinfo).date()
    opened = [s.opened_at.astimezone(location.tzinfo).date() for s in sessions]
    return Objects(
        location=location,
        registers=registers,
        sessions=sessions,
        transactions=list(Transaction.objects.filter(register__location=location).order_by("pk")),
        adjustments=list(Adjustment.objects.filter(session_id__in=session_ids).order_by("pk")),
        count_lines=list(CountLine.objects.filter(session_id__in=session_ids).order_by("pk")),
        corrections=list(Correction.objects.filter(session_id__in=session_ids).order_by("pk")),
        transfers=list(
            ClosingTransfer.objects.filter(main_session_id__in=session_ids).order_by("pk")
        ),
        # Every entry: the location's operations and the few of the chain's other store.
        audit_entries=list(AuditEntry.objects.order_by("pk")),
        tokens=list(ApiToken.objects.filter(register__location=location).order_by("pk")),
        alerts=list(Alert.objects.filter(location=location).order_by("pk")),
        memberships=memberships,
        staff=list(get_user_model().objects.filter(memberships__location=location).order_by("pk")),
        device_register=device_register,
        first=min([today - dt.timedelta(days=100), *opened]),
        last=today + dt.timedelta(days=1),
        touched=touched,
    )


# --- the back-office pages, the API and the CSV files ------------------------------------


def _url(name: str, *args: object, query: dict | None = None) -> str:
    url = reverse(name, args=args)
    return f"{url}?{urlencode(query)}" if query else url


def _range(o: Objects, **more: object) -> dict:
    return {"from": o.first.isoformat(), "to": o.last.isoformat(), **more}


def _custom(o: Objects, location: str, **more: object) -> dict:
    return {"location": location, "range": "custom", **_range(o), **more}


def _csv(name: str, *, all_locations: bool = False):
    """A CSV download of the location in both dialects (and of all the user's locations:
    stores of different currencies in one file)."""

    def urls(o: Objects) -> Iterator[tuple[str, str]]:
        for dialect in ("excel", "excel-eu"):
            yield _url(name, query=_range(o, location=o.location.pk, dialect=dialect)), TOKEN
        if all_locations:
            yield _url(name, query=_range(o, dialect="excel-eu")), TOKEN

    return urls


def _session_list(o: Objects) -> Iterator[tuple[str, str]]:
    """Every session of the chain (fewer than a page), a register's, a terminal's own."""
    yield _url("session-list", query={"ordering": "-total_discrepancy"}), TOKEN
    for register in o.pick(o.registers)[:1]:
        yield _url("session-list", query={"register": register.pk}), TOKEN
    yield _url("session-list", query={"register": o.device_register.pk}), DEVICE


def _transaction_list(o: Objects) -> Iterator[tuple[str, str]]:
    yield _url("transaction-list"), TOKEN
    for session in o.pick(o.sessions):
        yield _url("transaction-list", query={"session": session.pk}), TOKEN
    yield _url("transaction-list", query={"register": o.device_register.pk}), DEVICE


def _session_detail(o: Objects) -> Iterator[tuple[str, str]]:
    for session in o.pick(o.sessions):
        yield _url("session-detail", session.pk), TOKEN
        if session.register_id == o.device_register.pk:
            yield _url("session-detail", session.pk), DEVICE


def _overview(o: Objects) -> Iterator[tuple[str, str]]:
    query = _custom(o, str(o.location.pk), ordering="total_discrepancy")
    yield _url("reports:overview", query=query), MANAGER
    yield _url("reports:overview", query=_custom(o, "all")), MANAGER


def _session_pages(o: Objects) -> Iterator[tuple[str, str]]:
    """A manager's session page; a cashier's too on the blind register (figures hidden)."""
    for session in o.pick(o.sessions):
        yield _url("reports:session", session.pk), MANAGER
        if session.register_id == o.device_register.pk:
            yield _url("reports:session", session.pk), CASHIER


def _slips(o: Objects) -> Iterator[tuple[str, str]]:
    """The closing slip of each closed session, on both papers (an open one has none)."""
    for session in o.pick(o.sessions):
        if not session.is_open:
            yield _url("reports:slip", session.pk), MANAGER
            yield _url("reports:slip", session.pk, query={"paper": "80mm"}), MANAGER


def _open_first(sessions: list[TrackingSession]) -> list[TrackingSession]:
    """Open sessions, or else the latest closed one: the forms of a closed session only
    lead to its page (visited anyway)."""
    return [s for s in sessions if s.is_open] or sessions[-1:]


def _each(name: str, objects: Callable[[Objects], list], who: str = TOKEN, *, deep=True):
    """The URL of each touched object (see Objects.pick)."""
    return lambda o: ((_url(name, obj.pk), who) for obj in o.pick(objects(o), deep=deep))


def _one(name: str, objects: Callable[[Objects], list], who: str = TOKEN, *, deep=True):
    """The URL of one touched object: for a page that shows little of it (its name)."""
    return lambda o: ((_url(name, obj.pk), who) for obj in o.pick(objects(o), deep=deep)[:1])


def _one_url(name: str, who: str, query: dict | None = None):
    return lambda o: iter([(_url(name, query=query), who)])


_Urls = Callable[[Objects], Iterator[tuple[str, str]]]

# Pages that answer 200 only after a redirect (e.g. "/" lands on the overview, the open
# form of an open register goes back to the registers page).
FOLLOW = {"home", "operations:open", "operations:close", "operations:explain"}

VISITED: dict[str, _Urls] = {
    # back-office pages (a manager's browser; the cashier's view of blind sessions)
    "home": _one_url("home", MANAGER),
    "operations:now": lambda o: iter(
        [
            (_url("operations:now"), MANAGER),
            (_url("operations:now", query={"fragment": 1}), MANAGER),
        ]
    ),
    "operations:registers": lambda o: (
        (_url("operations:registers", query={"location": o.location.pk}), who)
        for who in (MANAGER, CASHIER)
    ),
    "operations:open": _each("operations:open", lambda o: o.registers, MANAGER),
    "operations:adjust": _each("operations:adjust", lambda o: _open_first(o.sessions), MANAGER),
    "operations:close": _each("operations:close", lambda o: _open_first(o.sessions), MANAGER),
    # Asks what happened after a blind close past the threshold; else back to the session.
    "operations:explain": _each("operations:explain", lambda o: o.sessions, MANAGER),
    "tokens": _one_url("tokens", MANAGER, query={"show": "all"}),
    "token-revoke": _each(
        "token-revoke", lambda o: [t for t in o.tokens if not t.is_revoked], MANAGER
    ),
    "alerts:list": lambda o: iter(
        [(_url("alerts:list", query={"location": o.location.pk}), MANAGER)]
    ),
    "reports:overview": _overview,
    "reports:session": _session_pages,
    "reports:slip": _slips,
    # the API's reads
    "location-list": _one_url("location-list", TOKEN),
    "location-detail": _each("location-detail", lambda o: [o.location]),
    "register-list": lambda o: iter(
        [(_url("register-list", query={"location": o.location.pk}), TOKEN)]
    ),
    "register-detail": lambda o: iter(
        [
            *((_url("register-detail", r.pk), TOKEN) for r in o.pick(o.registers, deep=False)),
            (_url("register-detail", o.device_register.pk), DEVICE),
        ]
    ),
    "register-device-tokens": lambda o: (
        (_url("register-device-tokens", register.pk), TOKEN)
        for register in o.pick(o.registers, children=o.tokens)
    ),
    "device-token": _each(
        "device-token", lambda o: [t for t in o.tokens if t.kind == ApiToken.Kind.DEVICE]
    ),
    "alert-list": lambda o: iter([(_url("alert-list", query={"location": o.location.pk}), TOKEN)]),
    "denomination-list": lambda o: iter(
        [(_url("denomination-list", query={"currency": o.location.currency}), TOKEN)]
    ),
    "session-list": _session_list,
    "session-detail": _session_detail,
    "session-corrections": _each("session-corrections", lambda o: o.sessions),
    "transaction-list": _transaction_list,
    "transaction-detail": _each("transaction-detail", lambda o: o.transactions),
    "report-discrepancy": lambda o: iter(
        [(_url("report-discrepancy", query=_range(o, location=o.location.pk)), TOKEN)]
    ),
    "report-cash-payments": lambda o: iter(
        [(_url("report-cash-payments", query=_range(o, location=o.location.pk)), TOKEN)]
    ),
    "report-discrepancy-csv": _csv("report-discrepancy-csv", all_locations=True),
    "report-cash-payments-csv": _csv("report-cash-payments-csv"),
    "report-sessions-csv": _csv("report-sessions-csv"),
    "report-journal-csv": _csv("report-journal-csv", all_locations=True),
    "report-corrections-csv": _csv("report-corrections-csv", all_locations=True),
    # the admin's own pages (the models' pages follow from ADMIN_MODELS)
    "admin:index": _one_url("admin:index", ADMIN),
    "admin:app_list": lambda o: (
        (reverse("admin:app_list", args=[label]), ADMIN)
        for label in ("auth", "cashdrawer", "sessions_app")
    ),
    "admin:autocomplete": _one_url(
        "admin:autocomplete",
        ADMIN,
        {"app_label": "cashdrawer", "model_name": "membership", "field_name": "user", "term": ""},
    ),
}

EXCLUDED: dict[str, str] = {
    "healthz": "the process answers; nothing of a location (tests/test_health.py)",
    "readyz": "the database answers; nothing of a location (tests/test_health.py)",
    "login": "the login form shows nothing stored",
    "logout": "POST only: ends the browser session the other visits need",
    "set_language": "POST only: sets the language cookie (the pages are read in en, nl, de)",
    "auth-token": "POST and DELETE only: issues and revokes user tokens",
    "session-adjustments": "POST only: the test's operations post to it",
    "session-close": "POST only: the test's operations post to it",
    "session-discrepancy-note": "POST only: tests/test_confirm_discrepancy.py posts to it",
    "reports:add_correction": "POST only: the test's operations post to it",
    "alerts:mark_seen": "POST only: marks an alert seen for the one manager (tests/test_alerts.py)",
    "alerts:mark_all_seen": "POST only: marks alerts seen for the one manager",
    "alert-seen": "POST only: marks an alert seen for the caller (tests/test_alerts.py)",
    "api-schema": "the API's description, the same whatever is stored (tests/api/test_schema.py)",
    "api-docs": "Swagger UI over the schema, the same whatever is stored",
    "admin:login": "the admin's login form shows nothing stored",
    "admin:logout": "POST only: ends the admin's session",
    "admin:password_change": "the superuser's own password form",
    "admin:password_change_done": "a fixed message after a password change",
    "admin:jsi18n": "the admin's JavaScript translation catalogue",
    "admin:view_on_site": "no model has get_absolute_url, so it answers 404 for every object",
    "admin:auth_user_password_change": "a password form; shows only the user's name",
}


# --- the admin -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminModel:
    """Which of a model's admin pages are visited. `objects`: its rows that belong to the
    location (change and history pages); None, with `why_not`, when none do. `add` and
    `delete` are visited where the admin allows them, else excluded with the reason."""

    objects: Callable[[Objects], list] | None
    why_not: str = ""
    add: bool = False
    delete: bool = False
    deep: bool = True  # False: its change page shows only its own row


READ_ONLY = "a record of money or an audit line: read-only in the admin, 403 by design"
AXES = "django-axes' login attempts: of a username or an address, not of a store"

ADMIN_MODELS: dict[str, AdminModel] = {
    "cashdrawer.location": AdminModel(lambda o: [o.location], add=True, delete=True),
    "cashdrawer.register": AdminModel(lambda o: o.registers, add=True, delete=True, deep=False),
    "cashdrawer.membership": AdminModel(lambda o: o.memberships, add=True, delete=True),
    "cashdrawer.denomination": AdminModel(
        None, why_not="a currency's coins and notes, shared by every store", add=True
    ),
    "cashdrawer.auditentry": AdminModel(lambda o: o.audit_entries),
    "cashdrawer.apitoken": AdminModel(lambda o: o.tokens),
    "alerts.alert": AdminModel(lambda o: o.alerts),
    "auth.user": AdminModel(lambda o: o.staff, add=True, delete=True),
    "auth.group": AdminModel(None, why_not="no group is used", add=True),
    "sessions_app.trackingsession": AdminModel(lambda o: o.sessions),
    "sessions_app.transaction": AdminModel(lambda o: o.transactions),
    "sessions_app.adjustment": AdminModel(lambda o: o.adjustments),
    "sessions_app.countline": AdminModel(lambda o: o.count_lines),
    "sessions_app.correction": AdminModel(lambda o: o.corrections),
    "sessions_app.closingtransfer": AdminModel(lambda o: o.transfers),
    # django-axes: failed logins of usernames and addresses, which belong to no store.
    "axes.accessattempt": AdminModel(None, why_not=AXES),
    "axes.accesslog": AdminModel(None, why_not=AXES),
    "axes.accessfailurelog": AdminModel(None, why_not=AXES),
}


def _admin_name(label: str, page: str) -> str:
    return f"admin:{label.replace('.', '_')}_{page}"


def _admin_urls(label: str, config: AdminModel) -> tuple[dict[str, _Urls], dict[str, str]]:
    visited: dict[str, _Urls] = {}
    excluded: dict[str, str] = {}
    visited[_admin_name(label, "changelist")] = _one_url(_admin_name(label, "changelist"), ADMIN)
    if config.add:
        visited[_admin_name(label, "add")] = _one_url(_admin_name(label, "add"), ADMIN)
    else:
        excluded[_admin_name(label, "add")] = READ_ONLY
    # The change page shows an object in full; history and delete pages show its name
    # (delete: and those of the rows it holds), so one object of a kind is enough there.
    pages = {"change": _each, "history": _one}
    if config.delete:
        pages["delete"] = _one
    for page, visitor in pages.items():
        name = _admin_name(label, page)
        if config.objects is None:
            excluded[name] = config.why_not
        else:
            visited[name] = visitor(name, config.objects, ADMIN, deep=config.deep)
    if not config.delete:
        excluded[_admin_name(label, "delete")] = config.why_not or READ_ONLY
    return visited, excluded


def _all_admin() -> tuple[dict[str, _Urls], dict[str, str]]:
    visited: dict[str, _Urls] = {}
    excluded: dict[str, str] = {}
    for label, config in ADMIN_MODELS.items():
        more_visited, more_excluded = _admin_urls(label, config)
        visited |= more_visited
        excluded |= more_excluded
    return visited, excluded


def visited_names() -> dict[str, _Urls]:
    return VISITED | _all_admin()[0]


def excluded_names() -> dict[str, str]:
    return EXCLUDED | _all_admin()[1]


# --- the URL confs --------------------------------------------------------------------------


def url_names() -> set[str]:
    """Every named URL pattern, with its namespace ("reports:session", "admin:index")."""

    def walk(patterns, namespace: str | None) -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return set(walk(get_resolver().url_patterns, None))


def admin_models() -> set[str]:
    return {model._meta.label_lower for model in admin.site._registry}


def unaccounted() -> set[str]:
    """Named URL patterns that are neither visited nor excluded with a reason."""
    return url_names() - set(visited_names()) - set(excluded_names())


# Pages that show nothing an operation of the test can change (forms for new objects,
# reference data, a redirect to a page visited anyway): requested once per run.
ONCE = {
    "home",
    "denomination-list",
    "admin:app_list",
    "admin:autocomplete",
    *(_admin_name(label, "add") for label in ADMIN_MODELS),
    *(
        _admin_name(label, page)
        for label in ("auth.group", "cashdrawer.denomination", "cashdrawer.membership")
        for page in ("changelist", "change", "history", "delete")
    ),
    *(_admin_name("auth.user", page) for page in ("changelist", "change", "history", "delete")),
    # A history page shows the admin's log of an object and its name, which its change
    # page shows too; a register's delete page lists what the location's lists.
    *(_admin_name(label, "history") for label in ADMIN_MODELS),
    _admin_name("cashdrawer.register", "delete"),
}


def visits(o: Objects, *, first: bool = True) -> list[Visit]:
    """Every URL of the location for the objects it holds now (see Objects.pick); the
    pages in ONCE only when `first`."""
    return [
        Visit(name, url, who, follow=name in FOLLOW)
        for name, urls in visited_names().items()
        if first or name not in ONCE
        for url, who in urls(o)
    ]
