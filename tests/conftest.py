"""Shared fixtures: a EUR store with registers, staff for each role, and helpers."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.utils import translation

from cashdrawer.models import Location, Membership, PaymentMethod, Register

_codes = itertools.count(1)

# The shared locations accept any discrepancy without a second look, so the suites of
# other rules can close with whatever count they need; the second look itself is tested
# in tests/test_confirm_discrepancy.py with the default threshold, 10.00.
LENIENT = Decimal("1000000.00")


@pytest.fixture
def location(db) -> Location:
    return Location.objects.create(
        name="Amsterdam", currency="EUR", timezone="Europe/Amsterdam", discrepancy_threshold=LENIENT
    )


@pytest.fixture
def other_location(db) -> Location:
    return Location.objects.create(
        name="Vienna", currency="EUR", timezone="Europe/Vienna", discrepancy_threshold=LENIENT
    )


@pytest.fixture
def make_register(db):
    def make(location: Location, **fields) -> Register:
        fields.setdefault("name", f"Register {next(_codes)}")
        fields.setdefault("code", f"r{next(_codes)}")
        register = Register(location=location, **fields)
        register.full_clean()
        register.save()
        return register

    return make


@pytest.fixture
def takes_vouchers(location) -> None:
    """Amsterdam takes vouchers too (every location takes cash and card)."""
    PaymentMethod.objects.create(location=location, name="voucher")


@pytest.fixture
def register(location, make_register) -> Register:
    """Register R of the worked example: EUR, default float 150.00, counted as a total."""
    return make_register(
        location, name="R", code="r", default_float=Decimal("150.00"), count_method="total"
    )


@pytest.fixture
def main_register(location, make_register) -> Register:
    return make_register(location, name="Main C", code="c", role="main")


@pytest.fixture
def sub_a(location, make_register, main_register) -> Register:
    return make_register(location, name="Sub A", code="a", role="sub", main_register=main_register)


@pytest.fixture
def sub_b(location, make_register, main_register) -> Register:
    return make_register(location, name="Sub B", code="b", role="sub", main_register=main_register)


@pytest.fixture
def make_user(db):
    def make(username: str, *, location: Location | None = None, role: str | None = None, **extra):
        user = get_user_model().objects.create_user(
            username=username, password="s3cret-pass", **extra
        )
        if location is not None and role is not None:
            Membership.objects.create(user=user, location=location, role=role)
        return user

    return make


@pytest.fixture
def manager(make_user, location):
    return make_user("maria", location=location, role="manager", first_name="Maria")


@pytest.fixture
def cashier(make_user, location):
    return make_user("carl", location=location, role="cashier", first_name="Carl")


@pytest.fixture
def accountant(make_user, location):
    return make_user("ada", location=location, role="accountant", first_name="Ada")


# --- added for the domain rule suites ----------------------------------------------------


@pytest.fixture
def jpy_location(db) -> Location:
    return Location.objects.create(
        name="Tokyo", currency="JPY", timezone="Asia/Tokyo", discrepancy_threshold=LENIENT
    )


@pytest.fixture
def new_york_location(db) -> Location:
    return Location.objects.create(
        name="New York", currency="USD", timezone="America/New_York", discrepancy_threshold=LENIENT
    )


@pytest.fixture
def counted_register(location, make_register) -> Register:
    """A standalone register that counts by denominations, default float 100.00."""
    return make_register(location, name="Counted", code="counted", default_float=Decimal("100.00"))


@pytest.fixture
def db_rows(db):
    """Row counts of every table the services write, to prove a refused call stored nothing."""
    from cashdrawer.models import AuditEntry
    from sessions_app.models import (
        Adjustment,
        ClosingTransfer,
        Correction,
        CountLine,
        TrackingSession,
        Transaction,
    )

    models = (
        TrackingSession,
        Transaction,
        Adjustment,
        CountLine,
        ClosingTransfer,
        Correction,
        AuditEntry,
    )

    def count() -> dict[str, int]:
        return {model.__name__: model.objects.count() for model in models}

    return count


@pytest.fixture
def session_figures():
    """Every stored column of a session, read fresh from the database."""
    from sessions_app.models import TrackingSession

    def figures(session) -> dict:
        fresh = TrackingSession.objects.get(pk=session.pk)
        return {f.attname: getattr(fresh, f.attname) for f in TrackingSession._meta.concrete_fields}

    return figures


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """A cheap hasher for every test: the default PBKDF2 costs most of a second per user,
    which would dominate the suite. No test depends on the hasher's strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def english_unless_a_test_says_otherwise():
    """A request through the test client leaves its language active in the thread; without
    this, a Dutch request in one test would make the next test's messages Dutch."""
    translation.activate("en")
    yield
    translation.activate("en")


@pytest.fixture
def shipped_denominations(db):
    """The coins and notes the data migration ships. A transactional test empties every
    table when it ends, these included, so tests that count by denomination after one
    (browser and thread tests) put them back first."""
    import importlib

    from django.apps import apps

    shipped = importlib.import_module("cashdrawer.migrations.0002_denominations")
    shipped.add_denominations(apps, None)


@pytest.fixture(autouse=True)
def no_request_counts_left_over(request, django_db_blocker):
    """The throttles count requests in caches: the login and bad-token counts in the
    shared database cache, whose table a transactional test's flush leaves as it is (it is
    not a model's). A live schemathesis run logs in hundreds of times; the next test on its
    worker that asks for a token within the minute got 429. Each transactional test's
    counts are cleared when it ends (the others' are rolled back with their transaction)."""
    yield
    caches["default"].clear()
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if transactional:
        with django_db_blocker.unblock():
            caches["shared"].clear()


@pytest.fixture(scope="session", autouse=True)
def close_stray_connections(django_db_setup, django_db_blocker):
    """Threads of the concurrency tests and the browser tests' live server may still hold
    a connection when the run ends; PostgreSQL then refuses to drop the test database
    ("being accessed by other users"). End them before pytest-django drops it."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


# The longest tests of the suite, longest first (from scripts/test's --durations on a whole
# run). xdist hands each of its two workers consecutive runs of the collected tests: a long
# test at the end of a run keeps its worker busy after the other one has finished, and two
# long tests side by side in the list end up one after the other on the same worker. So each
# long test goes first in its group of pytest-django's order (database tests, transactional
# ones, the rest), and the two live schemathesis runs, transactional both and the longest of
# all, go to the two ends of their group, with the group's other tests between them. A name
# that no longer matches a test changes nothing but the order.
LONGEST_FIRST = (
    "tests/api/test_schema_live.py::test_schemathesis_finds_nothing_as_a_manager",
    "tests/test_no_input_breaks_a_page.py::test_no_accepted_input_breaks_a_page",
    "tests/api/test_fuzz.py::test_fuzz_as_a_manager",
    "tests/test_blind_sealed.py::test_a_cashier_and_a_terminal_see_no_figure_of_a_blind_shifts_cash",
    "tests/test_query_counts.py::test_no_page_makes_more_queries_with_more_locations_or_rows",
    "tests/api/test_concurrency_api.py::test_sixteen_terminals_post_2000_sales_with_repeats_exactly_once",
    "tests/api/test_fuzz.py::test_fuzz_as_a_device",
    "tests/test_reconciliation.py::test_overviews_reconcile_for_every_range_of_random_histories",
)
LONG_LAST = ("tests/api/test_schema_live.py::test_schemathesis_finds_nothing_as_a_device",)


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items):
    """Order the long tests (LONGEST_FIRST, LONG_LAST) before pytest-django sorts the tests
    into its groups: its sort is stable, so the groups keep their order and this one's holds
    within each group."""
    first = {name: place for place, name in enumerate(LONGEST_FIRST)}
    last = {name: place for place, name in enumerate(LONG_LAST)}

    def place(item) -> tuple[int, int]:
        if item.nodeid in first:
            return (0, first[item.nodeid])
        if item.nodeid in last:
            return (2, last[item.nodeid])
        return (1, 0)

    items.sort(key=place)
    return (yield)
