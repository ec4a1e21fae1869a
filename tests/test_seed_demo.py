"""manage.py seed_demo: demo stores, staff and weeks of history, made through the services."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings
from django.utils import timezone

from cashdrawer import demo
from cashdrawer.models import AuditEntry, Location, Membership, Register
from sessions_app import journal
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    TrackingSession,
    Transaction,
)

# Seeding hashes one password; a slow hasher adds nothing to what these tests check.
FAST_HASHER = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
DAYS = 4  # the special cases land on the last few days; 4 keeps the tests quick
ZERO = Decimal("0.00")
User = get_user_model()


def seed(*args: str) -> str:
    out = io.StringIO()
    with FAST_HASHER:
        call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    models = [
        User,
        Membership,
        Location,
        Register,
        TrackingSession,
        Transaction,
        Adjustment,
        CountLine,
        ClosingTransfer,
        Correction,
        AuditEntry,
    ]
    return {model.__name__: model.objects.count() for model in models}


class TestTheSeededDemo:
    """One seeding, rolled back after the last test of the class, read by every test in it."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def seeded(cls, django_db_setup, django_db_blocker):
        with django_db_blocker.unblock(), transaction.atomic():
            output = seed("--days", str(DAYS))
            yield output
            transaction.set_rollback(True)

    @pytest.fixture(autouse=True)
    def _db(self, db):
        """Each test runs in a savepoint inside the seeding's transaction."""

    def test_it_says_what_it_made(self, seeded):
        assert "2 locations, 5 registers" in seeded
        assert "(5 open)" in seeded

    def test_the_demo_users_have_their_roles_at_the_right_stores(self):
        memberships = {
            (m.user.username, m.location.name): m.role
            for m in Membership.objects.select_related("user", "location")
        }
        ams, vie = demo.AMSTERDAM, demo.VIENNA
        assert memberships == {
            ("manager", ams): "manager",
            ("manager", vie): "manager",
            ("anna", ams): "manager",
            ("cashier", ams): "cashier",
            ("cashier", vie): "cashier",
            ("accountant", ams): "accountant",
            ("accountant", vie): "accountant",
        }
        admin = User.objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff
        for username in ["admin", "manager", "anna", "cashier", "accountant"]:
            user = User.objects.get(username=username)
            with FAST_HASHER:
                assert user.check_password("cashdrawer")
            assert user.first_name and user.last_name
            if username != "admin":
                assert not user.is_superuser and not user.is_staff

    def test_both_stores_have_their_registers(self):
        stores = {loc.name: loc for loc in Location.objects.all()}
        assert stores[demo.AMSTERDAM].timezone == "Europe/Amsterdam"
        assert stores[demo.VIENNA].timezone == "Europe/Vienna"
        assert {loc.currency for loc in stores.values()} == {"EUR"}
        registers = {
            r.code: (
                r.location.name,
                r.name,
                r.role,
                r.count_method,
                r.default_float,
                r.main_register,
            )
            for r in Register.objects.select_related("location", "main_register")
        }
        main = Register.objects.get(code="main")
        ams, vie, by_denominations = demo.AMSTERDAM, demo.VIENNA, "denominations"
        assert registers == {
            "till-1": (ams, "Till 1", "standalone", by_denominations, Decimal("150.00"), None),
            "till-2": (ams, "Till 2", "standalone", "total", Decimal("100.00"), None),
            "main": (vie, "Hauptkasse", "main", by_denominations, Decimal("200.00"), None),
            "sub-a": (vie, "Nebenkasse A", "sub", by_denominations, None, main),
            "sub-b": (vie, "Nebenkasse B", "sub", by_denominations, None, main),
        }

    def test_every_register_has_exactly_one_session_open_since_today(self):
        for register in Register.objects.select_related("location"):
            open_sessions = list(register.sessions.filter(status="open"))
            assert len(open_sessions) == 1, register.code
            today = timezone.now().astimezone(register.location.tzinfo).date()
            opened = open_sessions[0].opened_at.astimezone(register.location.tzinfo)
            assert opened.date() == today
            assert opened <= timezone.now()

    def test_there_is_one_session_per_register_and_day(self):
        for register in Register.objects.all():
            assert register.sessions.count() == DAYS, register.code

    def test_the_history_has_the_cases_the_browser_should_show(self):
        closed = TrackingSession.objects.filter(status="closed")
        # a session closed without a count (not a sub: those are never counted themselves)
        not_counted = closed.filter(counted_cash__isnull=True).exclude(register__role="sub")
        assert not_counted.count() == 1
        assert not_counted.get().end_discrepancy is None
        # one correction, of a closed session
        correction = Correction.objects.select_related("session").get()
        assert correction.session.status == "closed"
        assert correction.created_at >= correction.session.closed_at
        # one late sale: it happened before the previous session closed, arrived after
        late = Transaction.objects.select_related("session").get(late=True)
        earlier = closed.filter(register=late.register, closed_at__gt=late.occurred_at)
        assert earlier.filter(opened_at__lte=late.occurred_at).exists()
        assert late.received_at >= late.session.opened_at > late.occurred_at
        # some discrepancies, within what a till really shows
        discrepancies = closed.exclude(end_discrepancy__isnull=True).exclude(end_discrepancy=0)
        assert discrepancies.exists()
        large = discrepancies.filter(end_discrepancy__lt=Decimal("-10.00"))
        for session in discrepancies.exclude(pk__in=large):
            assert Decimal("0.50") <= abs(session.end_discrepancy) <= Decimal("10.00")
        # and one evening past the threshold: confirmed with a note, and an alert for it
        [shortage] = large
        assert (shortage.register.code, shortage.end_discrepancy) == ("till-2", Decimal("-45.50"))
        assert "Counted twice" in shortage.closing_note
        assert shortage.alerts.get().kind == "discrepancy"
        # a session opened by its first sale, with the last closing float (rule 2)
        automatic = TrackingSession.objects.filter(opened_automatically=True)
        assert automatic.exists()
        for session in automatic:
            assert session.opening_float == (session.previous_closing_float or ZERO)

    def test_sales_adjustments_and_refunds_look_like_a_shop(self):
        sales = Transaction.objects.filter(kind="sale")
        methods = set(sales.values_list("payment_method", flat=True))
        assert {"cash", "card"} <= methods <= {"cash", "card", "voucher"}
        for amount in Transaction.objects.values_list("amount", flat=True):
            assert Decimal("3.50") <= amount <= Decimal("120.00")
        reasons = set(Adjustment.objects.values_list("reason", flat=True))
        assert reasons <= set(demo.ADJUSTMENT_REASONS.values())
        for register in Register.objects.all():
            for session in register.sessions.all():
                assert 15 <= session.transactions.filter(late=False).count() <= 60 or (
                    session.is_open
                )

    def test_the_demo_history_is_numbered_and_chained(self):
        verified = journal.verify()
        assert verified.broken is None
        assert verified.closes == TrackingSession.objects.filter(status="closed").count() > 0

    def test_every_closed_session_adds_up(self):
        for s in TrackingSession.objects.filter(status="closed").select_related("register"):
            assert s.expected_cash == (
                s.opening_float
                + s.cash_sales
                - s.cash_refunds
                + s.adjustments_in
                - s.adjustments_out
                + s.sub_register_cash
            )
            end = s.end_discrepancy if s.end_discrepancy is not None else ZERO
            assert s.total_discrepancy == s.start_discrepancy + end
            if s.counted_cash is not None:
                assert s.end_discrepancy == s.counted_cash - s.expected_cash
            counted_or_expected = s.counted_cash if s.counted_cash is not None else s.expected_cash
            assert s.cash_removed + s.transferred_to_main == counted_or_expected - s.retained_float
            # Only a sub session's cash goes to a main register; it removes nothing itself.
            if s.register.is_sub:
                assert s.cash_removed == 0
            else:
                assert s.transferred_to_main == 0
            # The running totals are the sums of the session's own rows.
            cash = s.transactions.filter(payment_method="cash")
            assert s.cash_sales == total(cash.filter(kind="sale"))
            assert s.cash_refunds == total(cash.filter(kind="refund"))
            assert s.adjustments_in == total(s.adjustments.filter(direction="in"))
            assert s.adjustments_out == total(s.adjustments.filter(direction="out"))
            assert s.sub_register_cash == total(s.transfers_in.all())

    def test_each_store_closes_the_way_its_registers_count(self):
        closed = TrackingSession.objects.filter(status="closed", counted_cash__isnull=False)
        for s in closed.filter(register__count_method="denominations"):
            assert s.counted_cash == sum(
                (line.subtotal for line in s.counts.filter(stage="closing")), ZERO
            )
        for s in closed.filter(register__code="till-2"):
            assert not s.counts.exists()
        for s in closed.exclude(register__role="sub").select_related("register"):
            assert s.retained_float == min(s.register.default_float, s.counted_cash)

    def test_sub_registers_open_after_and_close_before_their_main(self):
        subs = TrackingSession.objects.filter(register__role="sub").select_related("main_session")
        assert subs.exists()
        for sub in subs:
            main = sub.main_session
            assert main.register.code == "main"
            assert main.opened_at <= sub.opened_at
            if sub.status == "closed":
                assert sub.retained_float == ZERO and sub.counted_cash is None
                assert sub.closing_transfer.amount == sub.expected_cash
                assert main.status == "closed" and sub.closed_at <= main.closed_at

    def test_everything_was_done_through_the_services(self):
        actions = dict.fromkeys(
            [
                "session.open",
                "session.open_automatically",
                "session.close",
                "transaction.sale",
                "transaction.refund",
                "session.correct",
            ],
            0,
        )
        for action in AuditEntry.objects.values_list("action", flat=True):
            if action in actions:
                actions[action] += 1
        assert (
            actions["session.open"] + actions["session.open_automatically"]
            == TrackingSession.objects.count()
        )
        assert actions["session.close"] == TrackingSession.objects.filter(status="closed").count()
        assert actions["transaction.sale"] + actions["transaction.refund"] == (
            Transaction.objects.count()
        )
        assert actions["session.correct"] == Correction.objects.count() == 1

    def test_running_it_again_changes_nothing(self):
        before = row_counts()
        output = seed("--days", str(DAYS))
        assert "nothing was changed" in output
        assert row_counts() == before


def total(queryset) -> Decimal:
    return queryset.aggregate(total=Sum("amount"))["total"] or ZERO


# --- on an empty database ---------------------------------------------------------------


def test_existing_users_are_kept_as_they_are_and_never_duplicated(db):
    with FAST_HASHER:
        User.objects.create_user("cashier", password="her-own-secret", first_name="Kim")
    seed("--days", "2")
    cashier = User.objects.get(username="cashier")
    with FAST_HASHER:
        assert cashier.check_password("her-own-secret")
    assert cashier.first_name == "Kim"
    assert cashier.memberships.count() == 2
    assert User.objects.count() == len(demo.USERS)


def test_the_demo_logins_file_lists_the_demo_users():
    text = (Path(__file__).resolve().parent.parent / "scripts" / "demo-logins.txt").read_text()
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|--")
    ][1:]
    assert {row[0] for row in rows} == {user.username for user in demo.USERS}
    assert {row[1] for row in rows} == {demo.DEMO_PASSWORD}


def test_history_stays_in_the_past_when_seeded_just_after_midnight(db):
    # Just after midnight on the Monday after the spring clock change: today's sessions
    # must open between midnight and now, and the days before cross the change.
    now = dt.datetime(2026, 3, 30, 0, 20, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with FAST_HASHER:
        demo.seed_demo(days=3, now=now)
    midnight = dt.datetime(2026, 3, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    for session in TrackingSession.objects.filter(status="open"):
        assert midnight <= session.opened_at <= now
    for session in TrackingSession.objects.filter(status="closed"):
        assert session.closed_at < midnight
        local = session.opened_at.astimezone(session.location.tzinfo)
        assert local.date() in {dt.date(2026, 3, 28), dt.date(2026, 3, 29)}
        assert dt.time(8) <= local.time() <= dt.time(14)
    times = [
        *Transaction.objects.values_list("occurred_at", flat=True),
        *Transaction.objects.values_list("received_at", flat=True),
        *Adjustment.objects.values_list("created_at", flat=True),
        *Correction.objects.values_list("created_at", flat=True),
    ]
    assert max(times) <= now


def test_the_same_day_always_gives_the_same_history(db):
    now = dt.datetime(2026, 5, 6, 16, 0, tzinfo=dt.UTC)

    def fingerprint() -> list[tuple]:
        with FAST_HASHER:
            demo.seed_demo(days=2, now=now)
        sessions = TrackingSession.objects.order_by("opened_at", "register__code")
        transactions = Transaction.objects.order_by("occurred_at", "register__code", "amount")
        return [
            *sessions.values_list("register__code", "opened_at", "counted_cash", "expected_cash"),
            *transactions.values_list("register__code", "occurred_at", "payment_method", "amount"),
        ]

    with transaction.atomic():
        first = fingerprint()
        transaction.set_rollback(True)
    assert fingerprint() == first


def test_days_must_leave_one_closed_day_and_today(db):
    with pytest.raises(CommandError):
        seed("--days", "1")
    assert not Location.objects.exists()


def test_an_amount_is_broken_into_the_largest_denominations_first():
    eur = [Decimal(v) for v in ("0.01", "0.02", "0.05", "0.10", "0.20", "0.50", "1", "2")]
    eur += [Decimal(v) for v in ("5", "10", "20", "50", "100", "200", "500")]
    lines = demo.break_into_denominations(Decimal("187.35"), eur)
    assert lines == [
        (Decimal("100"), 1),
        (Decimal("50"), 1),
        (Decimal("20"), 1),
        (Decimal("10"), 1),
        (Decimal("5"), 1),
        (Decimal("2"), 1),
        (Decimal("0.20"), 1),
        (Decimal("0.10"), 1),
        (Decimal("0.05"), 1),
    ]
    assert demo.break_into_denominations(Decimal("150.00"), eur, largest=Decimal("20")) == [
        (Decimal("20"), 7),
        (Decimal("10"), 1),
    ]
    assert demo.break_into_denominations(ZERO, eur) == []
    with pytest.raises(ValueError):
        demo.break_into_denominations(Decimal("0.03"), [Decimal("0.05"), Decimal("0.10")])
