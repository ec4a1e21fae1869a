"""`manage.py generate_chain` (sessions_app/chain.py): a chain made with COPY must look
exactly like one the services made, rule for rule, and verify_journal must pass on it."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pgtrigger
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, Min, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from cashdrawer.models import Location, Membership, Register
from reports import selectors as report_selectors
from sessions_app import chain, journal, services
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    DiscrepancyNote,
    TrackingSession,
    Transaction,
)

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2026, 10, 31)
ZERO = Decimal("0.00")


def _sum(queryset, condition: Q | None = None) -> Decimal:
    if condition is not None:
        queryset = queryset.filter(condition)
    return queryset.aggregate(total=Sum("amount"))["total"] or ZERO


def _schema() -> list[tuple]:
    """The foreign keys and indexes of the tables the chain loads, by name and definition."""
    tables = [model._meta.db_table for model in chain._loaded_models()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) "
            "UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE tablename = ANY(%s) ORDER BY 1, 2, 3",
            [tables, tables],
        )
        return cursor.fetchall()


@pytest.fixture
def made(db) -> dict:
    """A small chain: big enough to hold every kind of record (the seed is fixed)."""
    return chain.generate(4, 12, transactions=20, end_date=END, progress=False)


def test_it_makes_the_stores_staff_and_every_kind_of_record(made):
    assert made["locations"] == 4 and made["registers"] == 16
    assert made["sessions"] == 4 * 12 * 2 * 4 == TrackingSession.objects.count()
    assert made["transactions"] == Transaction.objects.count() > 4 * 12 * 2 * 4 * 10
    assert made["closing_transfers"] == ClosingTransfer.objects.count() == 4 * 12 * 2 * 2
    location = Location.objects.order_by("pk").first()
    roles = sorted(location.registers.values_list("role", flat=True))
    assert roles == ["main", "standalone", "sub", "sub"]
    staff = list(location.memberships.values_list("role", flat=True))
    assert staff.count(Membership.Role.MANAGER) == 1 and staff.count(Membership.Role.CASHIER) > 2
    assert get_user_model().objects.filter(memberships__location=location).count() == len(staff)
    sessions = TrackingSession.objects.all()
    # Every kind the issue names, present in this seed's chain.
    assert not sessions.filter(status="open").exists()
    assert sessions.filter(opened_automatically=True).exists()
    assert sessions.filter(counted_cash__isnull=True, main_session__isnull=True).exists()
    assert sessions.filter(end_discrepancy=0).count() > sessions.count() / 3
    assert sessions.filter(end_discrepancy__gt=10).exists()
    assert sessions.filter(end_discrepancy__lt=0, end_discrepancy__gt=-10).exists()
    assert sessions.exclude(start_discrepancy=0).exists()
    assert Transaction.objects.filter(late=True).exists()
    assert Transaction.objects.filter(kind="refund", payment_method="cash").exists()
    assert set(Transaction.objects.values_list("payment_method", flat=True).distinct()) == {
        "cash",
        "card",
        "voucher",
    }
    assert Adjustment.objects.filter(direction="in").exists()
    assert Adjustment.objects.filter(direction="out").exists()
    assert CountLine.objects.filter(stage="closing").exists()
    assert CountLine.objects.filter(stage="opening").exists()
    assert sessions.filter(register__count_method="total", counted_cash__isnull=False).exists()
    assert Correction.objects.count() == made["corrections"] > 0
    assert DiscrepancyNote.objects.count() == made["discrepancy_notes"]


def _by_session(queryset, key: str = "session_id", **figures) -> dict[int, dict]:
    """Figures per session in one query."""
    return {row[key]: row for row in queryset.values(key).order_by().annotate(**figures)}


def _money(condition: Q | None = None, column: str = "amount") -> Coalesce:
    return Coalesce(Sum(column, filter=condition), ZERO, output_field=DecimalField())


def test_every_close_adds_up_from_its_rows_as_the_services_reckon(made):
    """The running totals are the sums of the session's rows, and the closing figures
    follow DOMAIN.md rules 3 to 11, recomputed here from those rows."""
    cash = Q(payment_method="cash")
    rows = _by_session(
        Transaction.objects,
        cash_sales=_money(cash & Q(kind="sale")),
        cash_refunds=_money(cash & Q(kind="refund")),
        cash_sales_count=Count("id", filter=cash & Q(kind="sale")),
        cash_refunds_count=Count("id", filter=cash & Q(kind="refund")),
        total_sales=_money(Q(kind="sale")),
        total_refunds=_money(Q(kind="refund")),
        first_on_time=Min("occurred_at", filter=Q(late=False)),
        last_late=Max("occurred_at", filter=Q(late=True)),
    )
    adjustments = _by_session(
        Adjustment.objects,
        adjustments_in=_money(Q(direction="in")),
        adjustments_out=_money(Q(direction="out")),
    )
    transfers_in = _by_session(ClosingTransfer.objects, "main_session_id", amount=_money())
    transfers_out = {t.sub_session_id: t for t in ClosingTransfer.objects.all()}
    subtotal = ExpressionWrapper(F("value") * F("quantity"), output_field=DecimalField())
    counted = _by_session(
        CountLine.objects,
        opening=_money(Q(stage="opening"), subtotal),
        closing=_money(Q(stage="closing"), subtotal),
        opening_lines=Count("id", filter=Q(stage="opening")),
        closing_lines=Count("id", filter=Q(stage="closing")),
    )
    explained = set(DiscrepancyNote.objects.values_list("session_id", flat=True))
    sessions = {s.pk: s for s in TrackingSession.objects.all()}
    registers = {r.pk: r for r in Register.objects.all()}

    previous_by_register: dict[int, TrackingSession] = {}
    for session in sorted(sessions.values(), key=lambda s: (s.register_id, s.opened_at)):
        register = registers[session.register_id]
        for name in (
            "cash_sales",
            "cash_refunds",
            "cash_sales_count",
            "cash_refunds_count",
            "total_sales",
            "total_refunds",
        ):
            assert getattr(session, name) == rows[session.pk][name], name
        own = adjustments.get(session.pk, {"adjustments_in": ZERO, "adjustments_out": ZERO})
        assert session.adjustments_in == own["adjustments_in"]
        assert session.adjustments_out == own["adjustments_out"]
        assert session.sub_register_cash == transfers_in.get(session.pk, {}).get("amount", ZERO)

        # Rule 3 and the chain of floats between the register's sessions; the late rule.
        previous = previous_by_register.get(register.pk)
        if previous is None:
            assert session.previous_closing_float is None and session.start_discrepancy == 0
            assert session.closing_number == 1
            assert rows[session.pk]["last_late"] is None
        else:
            assert session.previous_closing_float == previous.retained_float
            assert session.opened_at >= previous.closed_at
            assert session.start_discrepancy == session.opening_float - previous.retained_float
            assert session.closing_number == previous.closing_number + 1
            last_late = rows[session.pk]["last_late"]
            assert last_late is None or last_late < previous.closed_at
        first_on_time = rows[session.pk]["first_on_time"]
        assert first_on_time is None or first_on_time >= session.opened_at
        if session.opened_automatically:
            assert session.opening_float == (session.previous_closing_float or ZERO)
        previous_by_register[register.pk] = session

        expected = (
            session.opening_float
            + session.cash_sales
            - session.cash_refunds
            + session.adjustments_in
            - session.adjustments_out
            + session.sub_register_cash
        )
        assert session.expected_cash == expected
        count = counted.get(session.pk, {"opening_lines": 0, "closing_lines": 0})
        if count["opening_lines"]:
            assert count["opening"] == session.opening_float
        if register.is_sub:
            # Rules 8 and 9: inside its main session; all its cash transferred there.
            main = sessions[session.main_session_id]
            assert main.register_id == register.main_register_id
            assert main.opened_at <= session.opened_at and session.closed_at <= main.closed_at
            transfer = transfers_out[session.pk]
            assert transfer.main_session_id == main.pk and transfer.amount == expected
            assert transfer.created_at == session.closed_at
            assert session.transferred_to_main == expected
            assert session.counted_cash is None and session.retained_float == 0
            assert session.cash_removed == 0 and not count["closing_lines"]
            assert session.total_discrepancy == session.start_discrepancy
            continue
        assert session.main_session_id is None and session.transferred_to_main == 0
        assert session.pk not in transfers_out
        if count["closing_lines"]:
            assert register.count_method == "denominations"
            assert count["closing"] == session.counted_cash
        if session.counted_cash is None:
            assert session.end_discrepancy is None
            assert session.retained_float == min(register.default_float, max(expected, ZERO))
        else:
            assert session.end_discrepancy == session.counted_cash - expected
            assert session.retained_float == min(register.default_float, session.counted_cash)
        counted_or_expected = expected if session.counted_cash is None else session.counted_cash
        assert session.cash_removed == counted_or_expected - session.retained_float
        assert session.total_discrepancy == session.start_discrepancy + (
            session.end_discrepancy or ZERO
        )
        # A discrepancy past the threshold (10.00) is confirmed with a note at the close,
        # or explained afterwards after a blind count.
        if session.end_discrepancy is not None and (
            abs(session.end_discrepancy) > 10 or abs(session.total_discrepancy) > 10
        ):
            assert session.closing_note or (session.blind_close and session.pk in explained)


def test_closing_numbers_corrections_and_hashes_verify(made):
    result = journal.verify()
    assert result.broken is None
    assert result.closes == made["sessions"]
    assert result.corrections == made["corrections"]
    # A later edit of any record of a closed session shows.
    edited = Transaction.objects.latest("pk")
    with pgtrigger.ignore("sessions_app.Transaction:transaction_append_only"):
        Transaction.objects.filter(pk=edited.pk).update(amount=edited.amount + 1)
    broken = journal.verify().broken
    assert broken is not None and broken.record_id == edited.session_id
    for correction in Correction.objects.all():
        assert correction.created_at > correction.session.closed_at


def test_the_schema_is_as_the_migrations_left_it_and_ids_continue(db):
    before = _schema()
    chain.generate(1, 2, transactions=5, end_date=END, progress=False)
    assert _schema() == before
    # The sequences follow the loaded ids: the services' next rows do not collide.
    session = TrackingSession.objects.order_by("-id").first()
    register = Register.objects.get(location=session.location, role="standalone")
    made = services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="2.00"
    )
    assert made.transaction.pk > Transaction.objects.exclude(pk=made.transaction.pk).latest("pk").pk
    assert made.transaction.session.pk > session.pk
    assert made.transaction.session.previous_closing_float is not None


def test_the_overviews_and_the_session_list_read_the_chain(made, client):
    locations = list(Location.objects.order_by("pk"))
    first, last = END - dt.timedelta(days=11), END
    sessions = report_selectors.sessions_in_range(locations, first, last)
    assert sessions.count() == made["sessions"]
    overview = report_selectors.discrepancy_overview(sessions)
    assert overview.sessions == made["sessions"]
    assert overview.start_counted - overview.start_reported == overview.start_discrepancy
    assert overview.end_counted - overview.end_expected == overview.end_discrepancy
    assert overview.first_openings == 4 * 4
    assert overview.corrections == made["corrections"]
    cash = report_selectors.cash_payments_overview(sessions)
    assert cash.gross == _sum(Transaction.objects.filter(payment_method="cash", kind="sale"))
    page = list(report_selectors.session_list(sessions, "-total_discrepancy")[:50])
    assert len(page) == 50
    assert page[0].total_discrepancy == max(s.total_discrepancy for s in sessions)
    assert page[0].total_discrepancy >= page[-1].total_discrepancy

    manager = Membership.objects.filter(location=locations[0], role=Membership.Role.MANAGER).get()
    client.force_login(manager.user)
    response = client.get(
        reverse("reports:overview"),
        {
            "location": locations[0].pk,
            "range": "custom",
            "from": first.isoformat(),
            "to": last.isoformat(),
            "ordering": "-total_discrepancy",
        },
    )
    assert response.status_code == 200
    assert locations[0].name in response.content.decode()


def _counts() -> list[int]:
    return [
        Location.objects.count(),
        Register.objects.count(),
        get_user_model().objects.count(),
        *(model.objects.count() for model in chain._loaded_models()),
    ]


def test_an_interrupted_run_leaves_nothing_and_a_rerun_works(db, monkeypatch):
    before, schema = _counts(), _schema()
    original = chain.Progress.update

    def interrupt(self, done, rows=0):
        original(self, done, rows)
        if self.stage == "sessions and sales" and self.done >= 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the load

    monkeypatch.setattr(chain.Progress, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        chain.generate(2, 5, transactions=10, end_date=END, progress=False)
    assert _counts() == before
    assert _schema() == schema

    monkeypatch.setattr(chain.Progress, "update", original)
    made = chain.generate(2, 5, transactions=10, end_date=END, progress=False)
    assert made["sessions"] == TrackingSession.objects.count() == 2 * 5 * 2 * 4
    assert journal.verify().broken is None


def test_it_refuses_a_database_that_has_locations(location):
    before = _counts()
    with pytest.raises(chain.ChainError, match="already has 1 location"):
        chain.generate(1, 1, end_date=END, progress=False)
    assert _counts() == before


def test_the_command_is_quiet_at_verbosity_0_and_verify_journal_passes(db):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "generate_chain",
        locations=1,
        days=2,
        transactions=5,
        end_date=END,
        verbosity=0,
        stdout=out,
        stderr=err,
    )
    assert out.getvalue() == "" and err.getvalue() == ""
    assert TrackingSession.objects.count() == 1 * 2 * 2 * 4
    checked = io.StringIO()
    call_command("verify_journal", stdout=checked)
    assert checked.getvalue().startswith("OK: 16 closes verified")


def test_the_command_shows_progress_and_refuses_a_second_run(db):
    out, err = io.StringIO(), io.StringIO()
    call_command("generate_chain", locations=1, days=1, transactions=5, stdout=out, stderr=err)
    assert "Generated 1 locations, 4 registers, 8 sessions" in out.getvalue()
    assert "sessions and sales" in err.getvalue() and "rows/s" in err.getvalue()
    with pytest.raises(CommandError, match="empty database only"):
        call_command("generate_chain", locations=1, days=1, stdout=out, stderr=err)


def test_it_refuses_sqlite_with_a_clear_message(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chain.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": "sqlite-chain",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "generate_chain", "--locations", "1", "--days", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "PostgreSQL's COPY" in result.stderr and "sqlite" in result.stderr


def test_the_text_forms_are_the_journals():
    """The generator writes times and amounts as the journal serialises them."""
    for us in (0, 1_764_000_000_123_456, 1_800_000_059_999_999):
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
        assert chain.moment(us) == journal._datetime(moment)
    for cents in (0, 5, -5, 1230, -1230, 123456789):
        assert chain.money(cents) == journal._decimal(Decimal(cents) / 100)
    rows = defaultdict(list)
    rows["transactions"] = ['[1,"sale","cash","2.00","t","t","pos-1",false,3,null]']
    session = [1, "x", None, True, "ü"]
    mine = chain.closing_hash(
        session=session,
        transactions=rows["transactions"],
        adjustments=[(2, "in", "5.00", "Own money", "t", 3, None)],
        counts=[("opening", "0.50", 1), ("closing", "2.00", 3), ("closing", "10.00", 1)],
        transfers=[],
        previous_hash="abc",
    )
    theirs = journal.close_hash(
        session=session,
        transactions=[(1, "sale", "cash", "2.00", "t", "t", "pos-1", False, 3, None)],
        adjustments=[(2, "in", "5.00", "Own money", "t", 3, None)],
        counts=[("opening", "0.50", 1), ("closing", "2.00", 3), ("closing", "10.00", 1)],
        transfers=[],
        previous_hash="abc",
    )
    assert mine == theirs
