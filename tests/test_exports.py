"""reports/exports.py and the selectors behind the CSV files: cells safe for spreadsheets,
the two dialects, streaming in chunks, and the cash journal in time order."""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cashdrawer.models import Location
from reports import exports, selectors
from reports.exports import DIALECTS, Amount, format_cell, safe_text, stream_csv
from sessions_app import services
from sessions_app.models import Adjustment, ClosingTransfer, Transaction
from tests import reports_fixtures
from tests.reports_fixtures import DAY, local, sell

chain = reports_fixtures.chain
root = reports_fixtures.root

EXCEL, EXCEL_EU = DIALECTS["excel"], DIALECTS["excel-eu"]


# --- cells ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        *("=1+2", "+31 6 1234", "-2", "@SUM(A1)", "\tx", "\rx"),
        # Full-width and small forms, which some spreadsheets read as their ASCII forms.
        *("＝1+2", "＋31 6 1234", "－2", "＠SUM(A1)", "﹦1", "﹢1", "﹣1", "﹫x"),
    ],
)
def test_text_a_spreadsheet_would_run_is_neutralised(text):
    assert safe_text(text) == "'" + text
    assert format_cell(text, EXCEL) == "'" + text


@pytest.mark.parametrize("text", ["drawer over limit", "Wien Mariahilf", "1+1", "", "'=x"])
def test_ordinary_text_is_left_alone(text):
    assert format_cell(text, EXCEL) == text


@given(st.text())
def test_no_text_cell_ever_starts_a_formula(text):
    cell = format_cell(text, EXCEL)
    assert not unicodedata.normalize("NFKC", cell[:1]).startswith(exports.FORMULA_STARTS)
    assert cell in (text, "'" + text)


def test_amounts_are_plain_numbers_with_the_currencys_minor_units():
    assert format_cell(Amount(Decimal("-5.00"), "EUR"), EXCEL) == "-5.00"
    assert format_cell(Amount(Decimal("-5.00"), "EUR"), EXCEL_EU) == "-5,00"
    assert format_cell(Amount(Decimal("1002.50"), "EUR"), EXCEL_EU) == "1002,50"
    assert format_cell(Amount(Decimal("1500.00"), "JPY"), EXCEL_EU) == "1500"
    assert format_cell(Amount(None, "EUR"), EXCEL) == ""  # not counted: empty, not 0


def test_other_cells():
    moment = dt.datetime(2026, 1, 15, 8, 0, 0, 123456, tzinfo=dt.UTC)
    tz = Location(timezone="Europe/Amsterdam").tzinfo
    assert format_cell(moment.astimezone(tz), EXCEL) == "2026-01-15T09:00:00+01:00"
    assert format_cell(dt.date(2026, 1, 15), EXCEL) == "2026-01-15"
    assert format_cell(dt.date(2026, 1, 15), EXCEL_EU) == "2026-01-15"
    assert format_cell(True, EXCEL) == "true"
    assert format_cell(None, EXCEL) == ""
    assert format_cell(-3, EXCEL) == "-3"  # a count is a number too
    with pytest.raises(TypeError):
        format_cell(Decimal("1.00"), EXCEL)  # money needs its currency


def test_excel_eu_writes_times_as_the_local_wall_clock_that_excel_reads_as_a_date():
    """Excel takes `2026-11-02T10:31:39+01:00` for text; `2026-11-02 10:31:39` is a date
    and time to it. The time stays the location's own, whatever its offset."""
    moment = dt.datetime(2026, 11, 2, 9, 31, 39, 654321, tzinfo=dt.UTC)
    amsterdam = Location(timezone="Europe/Amsterdam").tzinfo
    new_york = Location(timezone="America/New_York").tzinfo
    assert format_cell(moment.astimezone(amsterdam), EXCEL_EU) == "2026-11-02 10:31:39"
    assert format_cell(moment.astimezone(new_york), EXCEL_EU) == "2026-11-02 04:31:39"
    # The default dialect keeps ISO 8601 with the offset, for scripts and imports.
    assert format_cell(moment.astimezone(amsterdam), EXCEL) == "2026-11-02T10:31:39+01:00"


# --- files ------------------------------------------------------------------------------


def test_separators_quotes_and_line_breaks_survive_a_round_trip():
    rows = [["a;b", 'say "hi"', "two\nlines", Amount(Decimal("-1.50"), "EUR")]]
    for dialect in (EXCEL, EXCEL_EU):
        text = "".join(stream_csv(["x", "y", "z", "amount"], rows, dialect))
        content = io.StringIO(text.removeprefix("\ufeff"))
        parsed = list(csv.reader(content, delimiter=dialect.delimiter))
        assert parsed[1][:3] == ["a;b", 'say "hi"', "two\nlines"]
        assert parsed[1][3] == ("-1.50" if dialect is EXCEL else "-1,50")


def test_only_excel_eu_starts_with_a_byte_order_mark():
    assert "".join(stream_csv(["a"], [], EXCEL)) == "a\r\n"
    assert "".join(stream_csv(["a"], [], EXCEL_EU)) == "\ufeffa\r\n"


def test_a_file_is_sent_in_chunks_while_its_rows_are_read():
    pulled = 0

    def rows():
        nonlocal pulled
        for number in range(20_000):
            pulled += 1
            yield [number, "some text of a row", Amount(Decimal("12.34"), "EUR")]

    chunks = stream_csv(["n", "text", "amount"], rows(), EXCEL)
    first = next(chunks)
    assert first.startswith("n,text,amount\r\n0,")
    assert pulled < 20_000  # not everything read before the first chunk went out
    rest = list(chunks)
    assert len(rest) > 3
    assert all(len(chunk) <= exports.CHUNK_CHARS + 100 for chunk in [first, *rest])
    assert "".join([first, *rest]).count("\r\n") == 20_001


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Wien Mariahilf", "journal_wien-mariahilf_2026-01-01_2026-01-31.csv"),
        ("Zürich HB", "journal_zurich-hb_2026-01-01_2026-01-31.csv"),
        ("東京", "journal_location-7_2026-01-01_2026-01-31.csv"),
    ],
)
def test_file_names_hold_the_location_and_the_range(name, expected):
    location = Location(pk=7, name=name)
    first, last = dt.date(2026, 1, 1), dt.date(2026, 1, 31)
    assert exports.report_filename("journal", location, first, last) == expected
    assert exports.report_filename("journal", None, first, last) == (
        "journal_all-locations_2026-01-01_2026-01-31.csv"
    )


# --- the selectors behind the files -------------------------------------------------------


def test_per_location_overviews_are_the_overview_of_each_location(chain):
    places = [chain.amsterdam, chain.vienna, chain.tokyo]
    for place, overview in selectors.discrepancy_by_location(places, DAY, DAY):
        assert overview == selectors.discrepancy_overview(
            selectors.sessions_in_range([place], DAY, DAY)
        )
    for place, overview in selectors.cash_payments_by_location(places, DAY, DAY):
        assert overview == selectors.cash_payments_overview(
            selectors.sessions_in_range([place], DAY, DAY)
        )


def test_session_rows_follow_the_session_list(chain):
    sessions = selectors.sessions_in_range([chain.amsterdam], DAY, DAY + dt.timedelta(days=1))
    for ordering in selectors.SESSION_ORDERINGS:
        ordered = selectors.session_list(sessions, ordering)
        assert [row[0] for row in exports.session_rows(ordered)] == [s.pk for s in ordered]


def test_the_journal_has_every_record_once_in_time_order(chain):
    sessions = selectors.sessions_in_range([chain.amsterdam], DAY, DAY)

    entries = list(selectors.cash_journal(sessions, chunk_size=2))  # small chunks on purpose

    keys = [(entry.type, entry.record_id) for entry in entries]
    transactions = Transaction.objects.filter(session__in=sessions)
    adjustments = Adjustment.objects.filter(session__in=sessions)
    transfers = ClosingTransfer.objects.filter(sub_session__in=sessions)
    expected = {
        *((t.kind, t.pk) for t in transactions),
        *((f"adjustment_{a.direction}", a.pk) for a in adjustments),
        *(("closing_transfer", t.pk) for t in transfers),
    }
    assert len(keys) == len(set(keys)) == len(expected) == 10
    assert set(keys) == expected
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
    assert {entry.session.location_id for entry in entries} == {chain.amsterdam.pk}


def test_the_journal_keeps_a_bounded_number_of_sessions_in_memory(chain, monkeypatch):
    """A year of 50 stores is 146,000 sessions: kept all at once they grew the serving
    process by 376 MB. The journal keeps at most MAX_SESSIONS and rebuilds the others."""
    sessions = selectors.sessions_in_range(Location.objects.all(), DAY, DAY + dt.timedelta(days=1))

    def journal():
        return [
            (e.type, e.record_id, e.session.pk, e.session.register.name, e.session.location_id)
            for e in selectors.cash_journal(sessions, chunk_size=2)
        ]

    whole = journal()
    kept = []
    session = selectors._JournalLookups.session

    def counting(lookups, session_id, register_id):
        found = session(lookups, session_id, register_id)
        kept.append(len(lookups.sessions))
        return found

    monkeypatch.setattr(selectors._JournalLookups, "MAX_SESSIONS", 1)
    monkeypatch.setattr(selectors._JournalLookups, "session", counting)
    assert journal() == whole
    assert len({row[2] for row in whole if row[0] in ("sale", "refund")}) > 1
    assert max(kept) == 1


def test_at_the_same_moment_a_sale_comes_before_an_adjustment(register, manager):
    moment = dt.datetime(2026, 3, 2, 10, 0, tzinfo=register.location.tzinfo)
    session = services.open_session(
        register=register, opening_float="150.00", by=manager, at=moment
    )
    services.adjust_float(
        session=session, direction="in", amount="1.00", reason="change", by=manager, at=moment
    )
    sell(register, "3.00", moment)
    sell(register, "4.00", moment, kind="refund")

    sessions = selectors.sessions_in_range([register.location], moment.date(), moment.date())
    types = [entry.type for entry in selectors.cash_journal(sessions)]

    assert types == ["sale", "refund", "adjustment_in"]


def test_a_closing_transfer_belongs_to_the_day_of_its_sub_session(chain):
    # Sub A's session opened on DAY: its transfer is in DAY's journal and not the next day's.
    next_day = DAY + dt.timedelta(days=1)
    entries = list(
        selectors.cash_journal(selectors.sessions_in_range([chain.amsterdam], next_day, next_day))
    )
    assert [entry.type for entry in entries] == ["sale"]  # R3's automatic session
    assert entries[0].at == local(chain.amsterdam, 10, days=1)
