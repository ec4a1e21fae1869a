"""The CSV downloads of /api/v1/reports/: streamed, the same rows as the selectors, safe
for spreadsheets, and in the excel-eu dialect for Dutch or German spreadsheets."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cashdrawer.models import Location
from cashdrawer.money import format_amount
from reports import selectors
from reports.selectors import SESSION_ORDERINGS
from sessions_app import services
from sessions_app.models import Adjustment, ClosingTransfer, Transaction
from tests import reports_fixtures
from tests.reports_fixtures import (
    CSV_URLS,
    DAY,
    csv_text,
    day_params,
    local,
    read_csv,
    sell,
    url,
)

# The chain of shops and a superuser, shared with the other report test modules.
chain = reports_fixtures.chain
root = reports_fixtures.root


@pytest.fixture
def api():
    return APIClient()


def download(api, user, name, params, **headers):
    api.force_authenticate(user)
    response = api.get(url(name), params, **headers)
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("report-discrepancy-csv", "discrepancy_amsterdam_2026-01-15_2026-01-15.csv"),
        ("report-cash-payments-csv", "cash-payments_amsterdam_2026-01-15_2026-01-15.csv"),
        ("report-sessions-csv", "sessions_amsterdam_2026-01-15_2026-01-15.csv"),
        ("report-journal-csv", "journal_amsterdam_2026-01-15_2026-01-15.csv"),
    ],
)
def test_downloads_are_streamed_attachments_named_by_location_and_range(
    api, chain, manager, name, filename
):
    response = download(api, manager, name, day_params(chain.amsterdam), HTTP_ACCEPT="text/csv")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'


def test_all_locations_in_the_filename_when_location_is_left_out(api, chain):
    response = download(api, chain.chain_accountant, "report-sessions-csv", day_params())
    assert "sessions_all-locations_2026-01-15_2026-01-15.csv" in response["Content-Disposition"]


# --- the overviews: one row per location, as the page shows them ------------------------


def test_discrepancy_csv_of_one_location_is_the_json_report(api, chain, manager):
    api.force_authenticate(manager)
    report = api.get(url("report-discrepancy"), day_params(chain.amsterdam)).json()

    [row] = read_csv(download(api, manager, "report-discrepancy-csv", day_params(chain.amsterdam)))

    assert row == {
        "location_id": str(chain.amsterdam.pk),
        "location": "Amsterdam",
        "currency": "EUR",
        "from": report["from"],
        "to": report["to"],
        "sessions": str(report["sessions"]),
        "not_counted_sessions": str(report["not_counted_sessions"]),
        "start_reported": report["start"]["reported"],
        "start_counted": report["start"]["counted"],
        "start_discrepancy": report["start"]["discrepancy"],
        "end_expected": report["end"]["expected"],
        "end_counted": report["end"]["counted"],
        "end_discrepancy": report["end"]["discrepancy"],
        "total_discrepancy": report["total_discrepancy"],
        "first_openings": str(report["start"]["first_openings"]),
        "first_openings_float": report["start"]["first_openings_float"],
        "not_counted_expected": report["end"]["not_counted_expected"],
        "corrections": str(report["corrections"]["count"]),
        "corrections_total": report["corrections"]["total"],
        "total_discrepancy_after_corrections": report["total_discrepancy_after_corrections"],
    }


def test_overview_csvs_have_one_row_per_location_and_no_total_row(api, chain, root):
    rows = read_csv(download(api, root, "report-discrepancy-csv", day_params()))

    assert [row["location"] for row in rows] == ["Amsterdam", "Tokyo", "Vienna"]
    for row, place in zip(rows, [chain.amsterdam, chain.tokyo, chain.vienna], strict=True):
        overview = selectors.discrepancy_overview(selectors.sessions_in_range([place], DAY, DAY))
        assert row["currency"] == place.currency
        assert int(row["sessions"]) == overview.sessions
        assert row["total_discrepancy"] == format_amount(overview.total_discrepancy, place.currency)
        assert row["end_counted"] == format_amount(overview.end_counted, place.currency)
    assert rows[1]["end_counted"] == "11500"  # yen: no decimals
    assert rows[2]["total_discrepancy"] == "-5.00"  # a negative amount stays a number

    rows = read_csv(download(api, root, "report-cash-payments-csv", day_params()))
    assert [(r["location"], r["gross"], r["refunds"], r["net"]) for r in rows] == [
        ("Amsterdam", "765.50", "5.50", "760.00"),
        ("Tokyo", "1500", "0", "1500"),
        ("Vienna", "10.00", "0.00", "10.00"),
    ]
    assert (rows[0]["payments_count"], rows[0]["refunds_count"]) == ("4", "1")


# --- the session list ------------------------------------------------------------------


@pytest.mark.parametrize("ordering", list(SESSION_ORDERINGS))
def test_sessions_csv_has_the_rows_of_the_session_list_in_its_order(api, chain, ordering):
    user = chain.chain_accountant
    first, last = DAY, DAY.replace(day=16)
    expected = list(
        selectors.session_list(
            selectors.sessions_in_range([chain.amsterdam, chain.vienna], first, last), ordering
        ).values_list("pk", flat=True)
    )

    rows = read_csv(
        download(
            api, user, "report-sessions-csv", day_params(first=first, last=last, ordering=ordering)
        )
    )

    assert [int(row["id"]) for row in rows] == expected
    assert len(expected) == 6  # R1, R2, R3, C, A and Vienna's


def test_sessions_csv_orders_by_newest_start_by_default(api, chain, manager):
    rows = read_csv(download(api, manager, "report-sessions-csv", day_params(chain.amsterdam)))
    assert [int(row["id"]) for row in rows] == [
        chain.r2.pk,
        chain.sub.pk,
        chain.main.pk,
        chain.r1.pk,
    ]


def test_a_session_row_holds_its_figures_local_times_and_staff(api, chain, manager):
    rows = read_csv(download(api, manager, "report-sessions-csv", day_params(chain.amsterdam)))
    by_id = {int(row["id"]): row for row in rows}

    r1 = by_id[chain.r1.pk]
    assert r1["location"] == "Amsterdam" and r1["currency"] == "EUR"
    assert r1["register"] == "R" and r1["status"] == "closed"
    assert r1["opened_at"] == "2026-01-15T08:00:00+01:00"
    assert r1["closed_at"] == "2026-01-15T15:00:00+01:00"
    assert r1["opened_by"] == "Maria" and r1["closed_by"] == "Maria"
    assert r1["previous_closing_float"] == ""  # a first session has none
    assert (r1["opening_float"], r1["expected_cash"], r1["counted_cash"]) == (
        "150.00",
        "202.00",
        "200.00",
    )
    assert (r1["end_discrepancy"], r1["total_discrepancy"], r1["cash_removed"]) == (
        "-2.00",
        "-2.00",
        "50.00",
    )

    r2 = by_id[chain.r2.pk]
    assert (r2["counted_cash"], r2["end_discrepancy"], r2["total_discrepancy"]) == ("", "", "5.00")
    assert r2["opening_note"] == "'@note"  # neutralised

    sub = by_id[chain.sub.pk]
    assert sub["main_session"] == str(chain.main.pk)
    assert sub["retained_float"] == "0.00" and sub["expected_cash"] == "300.00"
    main = by_id[chain.main.pk]
    assert main["sub_register_cash"] == "300.00" and main["end_discrepancy"] == "2.50"


def test_an_open_sessions_row_shows_the_cash_expected_so_far(api, chain, manager):
    day = DAY.replace(day=16)
    [row] = read_csv(
        download(
            api, manager, "report-sessions-csv", day_params(chain.amsterdam, first=day, last=day)
        )
    )
    assert (row["status"], row["closed_at"], row["expected_cash"]) == ("open", "", "162.00")
    assert row["opened_automatically"] == "true"


# --- the cash journal ------------------------------------------------------------------


def test_journal_holds_every_record_of_the_range_exactly_once(api, chain, root):
    sessions = selectors.sessions_in_range([chain.amsterdam, chain.vienna, chain.tokyo], DAY, DAY)
    transactions = Transaction.objects.filter(session__in=sessions)
    adjustments = Adjustment.objects.filter(session__in=sessions)
    transfers = ClosingTransfer.objects.filter(sub_session__in=sessions)
    expected = (
        [(t.kind, t.pk) for t in transactions]
        + [(f"adjustment_{a.direction}", a.pk) for a in adjustments]
        + [("closing_transfer", t.pk) for t in transfers]
    )

    rows = read_csv(download(api, root, "report-journal-csv", day_params()))

    keys = [(row["type"], int(row["record_id"])) for row in rows]
    assert sorted(keys) == sorted(expected)
    assert len(keys) == len(set(keys)) == 7 + 2 + 1 + 1 + 1  # Amsterdam, Vienna, Tokyo
    # R3's sale of the next day is not in a one-day range.
    assert not any(row["session"] == str(chain.r3.pk) for row in rows)


def test_journal_rows_are_in_time_order_with_session_register_staff_and_times(api, chain, manager):
    rows = read_csv(download(api, manager, "report-journal-csv", day_params(chain.amsterdam)))

    assert [row["at"] for row in rows] == sorted(row["at"] for row in rows)  # one offset: +01:00
    first = rows[0]
    assert first == {
        "at": "2026-01-15T09:00:00+01:00",
        "location": "Amsterdam",
        "currency": "EUR",
        "register": "R",
        "session": str(chain.r1.pk),
        "type": "sale",
        "record_id": first["record_id"],
        "payment_method": "cash",
        "amount": "45.50",
        "staff": "Maria",
        "reason": "",
        "external_id": "'+31 6 1234",
        "late": "false",
        "received_at": "2026-01-15T09:00:00+01:00",
        "to_register": "",
        "to_session": "",
    }
    adjustments = [row for row in rows if row["type"].startswith("adjustment")]
    assert [(r["type"], r["amount"], r["reason"]) for r in adjustments] == [
        ("adjustment_out", "10.00", "drawer over limit"),
        ("adjustment_in", "2.00", "'=1+2"),
    ]
    [transfer] = [row for row in rows if row["type"] == "closing_transfer"]
    assert transfer["register"] == "Sub A" and transfer["session"] == str(chain.sub.pk)
    assert transfer["to_register"] == "Main C" and transfer["to_session"] == str(chain.main.pk)
    assert transfer["amount"] == "300.00" and transfer["at"] == "2026-01-15T17:30:00+01:00"


# --- spreadsheets ----------------------------------------------------------------------


@pytest.mark.parametrize("name", CSV_URLS)
def test_no_text_cell_starts_a_formula_and_amounts_stay_numbers(api, chain, root, name):
    text = csv_text(download(api, root, name, day_params()))
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.startswith(("=", "+", "@", "\t", "\r")):
                pytest.fail(f"formula cell {cell!r} in {name}")
            if cell.startswith("-"):
                float(cell)  # only a negative amount may start with "-"


def test_excel_eu_has_a_bom_semicolons_and_decimal_commas(api, chain):
    user = chain.chain_accountant
    response = download(
        api, user, "report-discrepancy-csv", day_params(chain.vienna, dialect="excel-eu")
    )
    text = csv_text(response)

    assert text.startswith("\ufefflocation_id;location;currency;from;to;")
    [row] = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))
    assert row["total_discrepancy"] == "-5,00"
    # Vienna's register opened for the first time: a first opening, not counted at the start.
    assert row["start_counted"] == "0,00"
    assert row["first_openings_float"] == "100,00"
    assert row["from"] == "2026-01-15"


def test_excel_eu_times_are_local_wall_clock_times_and_the_default_keeps_the_offset(
    api, chain, manager
):
    params = day_params(chain.amsterdam)
    plain = read_csv(download(api, manager, "report-sessions-csv", params))
    eu = read_csv(
        download(api, manager, "report-sessions-csv", {**params, "dialect": "excel-eu"}),
        delimiter=";",
    )
    r1 = {int(row["id"]): row for row in plain}[chain.r1.pk]
    r1_eu = {int(row["id"]): row for row in eu}[chain.r1.pk]
    assert (r1["opened_at"], r1["closed_at"]) == (
        "2026-01-15T08:00:00+01:00",
        "2026-01-15T15:00:00+01:00",
    )
    assert (r1_eu["opened_at"], r1_eu["closed_at"]) == (
        "2026-01-15 08:00:00",
        "2026-01-15 15:00:00",
    )

    journal = read_csv(
        download(api, manager, "report-journal-csv", {**params, "dialect": "excel-eu"}),
        delimiter=";",
    )
    assert "2026-01-15 09:00:00" in {row["at"] for row in journal}
    assert not any("T" in row["at"] or "+" in row["at"] for row in journal)


def test_the_default_dialect_has_no_bom(api, chain, manager):
    text = csv_text(download(api, manager, "report-journal-csv", day_params(chain.amsterdam)))
    assert text.startswith("at,location,")
    assert "\r\n" in text


def test_excel_eu_journal_keeps_neutralised_text_and_comma_amounts(api, chain, manager):
    response = download(
        api, manager, "report-journal-csv", day_params(chain.amsterdam, dialect="excel-eu")
    )
    rows = read_csv(response, delimiter=";")
    assert {"45,50", "300,00", "2,00"} <= {row["amount"] for row in rows}
    assert "'=1+2" in {row["reason"] for row in rows}


def test_an_empty_range_gives_only_the_header(api, chain, manager):
    params = day_params(chain.amsterdam, first=DAY.replace(year=2020), last=DAY.replace(year=2020))
    for name in ("report-sessions-csv", "report-journal-csv"):
        assert read_csv(download(api, manager, name, params)) == []


@pytest.mark.parametrize(
    ("name", "table"),
    [("report-sessions-csv", "sessions_app_trackingsession"),
     ("report-journal-csv", "sessions_app_transaction")],
)  # fmt: skip
def test_rows_are_read_while_the_file_is_sent_not_before(api, chain, manager, name, table):
    api.force_authenticate(manager)
    with CaptureQueriesContext(connection) as view_queries:
        response = api.get(url(name), day_params(chain.amsterdam))
    with CaptureQueriesContext(connection) as streamed_queries:
        content = b"".join(response.streaming_content)

    assert content.count(b"\r\n") > 1
    assert not any(f'FROM "{table}"' in q["sql"] for q in view_queries.captured_queries)
    assert any(f'FROM "{table}"' in q["sql"] for q in streamed_queries.captured_queries)


FULL_WIDTH_STARTS = ("＝", "＋", "－", "＠")


@pytest.mark.parametrize("name", CSV_URLS)
def test_full_width_formula_starts_are_neutralised_in_every_csv(
    api, make_user, make_register, name
):
    """A store, register, notes, reasons and ids starting with ＝＋－＠ (which some
    spreadsheets read as = + - @) reach every CSV with the apostrophe in front."""
    store = Location.objects.create(
        name='＝HYPERLINK("http://x")', currency="EUR", timezone="Europe/Amsterdam"
    )
    boss = make_user("boss", location=store, role="manager")
    till = make_register(store, name="＋Kasse", code="fw", count_method="total")
    session = services.open_session(
        register=till, opening_float="100.00", note="－note", by=boss, at=local(store, 8)
    )
    sell(till, "10.00", local(store, 9), external_id="＠pos-1", by=boss)
    services.adjust_float(
        session=session, direction="in", amount="1.00", reason="＝1+1", by=boss,
        at=local(store, 10),
    )  # fmt: skip
    services.close_session(session=session, counted="111.00", by=boss, at=local(store, 11))
    session.refresh_from_db()
    services.add_correction(session=session, amount="1.00", reason="＋found", by=boss)

    text = csv_text(download(api, boss, name, day_params(store)))
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [cell for cell in cells if cell.startswith(FULL_WIDTH_STARTS)]
    neutralised = {cell for cell in cells if cell.startswith("'") and cell[1:2] in "＝＋－＠"}
    assert neutralised, text
