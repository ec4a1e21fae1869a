"""CSV files of the overviews, the session list and the cash journal, streamed row by row.

The API downloads, the back-office page's buttons and the admin's "Export CSV" action all
write their files here, from the selectors of reports/selectors.py, so a file always holds
what the page shows.

- Column names are stable English snake_case in every language: accountants import these
  files, and a translated header would break their imports.
- Amounts are plain numbers with the currency's minor units ("-5.00"; "1500" for JPY),
  an empty cell where there is none (not counted). Times are in the location's time zone:
  ISO 8601 with its offset, or in excel-eu the local time alone (below). Booleans are
  `true`/`false`.
- A text cell (a name, a note, a reason, a payment method, an external id) that a
  spreadsheet would run as a formula is prefixed with `'`; amounts are never touched, so a
  negative discrepancy stays -5.00.
- `excel` (default): commas and decimal points, UTF-8 without a byte-order mark, for
  scripts and imports. `excel-eu`: semicolons and decimal commas, with a UTF-8 byte-order
  mark, without which Excel reads "Zürich" as "ZÃ¼rich". Its times are the local time
  without offset or "T" (`2026-11-02 10:31:39`): Excel reads that as a date and time, and
  leaves `2026-11-02T10:31:39+01:00` as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify

from cashdrawer.actors import Actor
from cashdrawer.db_router import in_one_transaction
from cashdrawer.models import Location
from cashdrawer.money import format_amount
from reports.selectors import (
    JournalEntry,
    cash_payments_by_location,
    discrepancy_by_location,
)
from sessions_app.models import Correction, TrackingSession

# Rows read from the database per round trip, and characters sent per chunk of the file.
CHUNK_ROWS = 2000
CHUNK_CHARS = 64 * 1024


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    decimal_separator: str
    byte_order_mark: bool
    # Date-times as the wall-clock time of their zone, without offset: what Excel reads as
    # a date. Otherwise ISO 8601 with the offset, for scripts and imports.
    wall_clock_times: bool = False


DIALECTS: dict[str, Dialect] = {
    "excel": Dialect(delimiter=",", decimal_separator=".", byte_order_mark=False),
    "excel-eu": Dialect(
        delimiter=";", decimal_separator=",", byte_order_mark=True, wall_clock_times=True
    ),
}


class Amount(NamedTuple):
    """A money cell: written with its currency's minor units, never neutralised."""

    value: Decimal | None
    currency: str


# What spreadsheets read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """A text cell that no spreadsheet runs as a formula: one that starts like a formula
    gets a leading apostrophe. The first character is compared in its NFKC form, so the
    full-width and small forms (＝＋－＠, ﹦﹢﹣﹫) that some spreadsheets read as their
    ASCII forms are neutralised too."""
    if value[:1] and unicodedata.normalize("NFKC", value[:1]).startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def format_cell(value: Any, dialect: Dialect) -> str:
    if value is None:
        return ""
    if isinstance(value, Amount):
        text = format_amount(value.value, value.currency) or ""
        return text.replace(".", dialect.decimal_separator)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if dialect.wall_clock_times:
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        raise TypeError("Write money as Amount(value, currency), with its currency.")
    return safe_text(str(value))


class _Line:
    """A file-like object for csv.writer that hands back each line instead of storing it."""

    def write(self, line: str) -> str:
        return line


def stream_csv(
    header: Sequence[str], rows: Iterable[Sequence[Any]], dialect: Dialect
) -> Iterator[str]:
    """The file as chunks of text; rows are read from `rows` only as the client downloads."""
    writer = csv.writer(_Line(), delimiter=dialect.delimiter, lineterminator="\r\n")
    chunk = ["\ufeff"] if dialect.byte_order_mark else []
    chunk.append(writer.writerow(header))
    size = 0
    for row in rows:
        line = writer.writerow([format_cell(value, dialect) for value in row])
        chunk.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(chunk)
            chunk, size = [], 0
    yield "".join(chunk)


def csv_response(
    *, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], dialect: Dialect
) -> StreamingHttpResponse:
    # Read in one transaction held while the file streams (cashdrawer/db_router.py).
    return file_response(filename, stream_csv(header, in_one_transaction(rows), dialect))


def file_response(filename: str, chunks: Iterable[str | bytes]) -> StreamingHttpResponse:
    """A CSV download of already written chunks (also reports/journal_copy.py's bytes)."""
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    return response


def report_filename(report: str, location: Location | None, first: dt.date, last: dt.date) -> str:
    """E.g. discrepancy_amsterdam_2026-01-01_2026-01-31.csv; all-locations without one."""
    if location is None:
        scope = "all-locations"
    else:
        scope = slugify(location.name) or f"location-{location.pk}"
    return f"{report}_{scope}_{first.isoformat()}_{last.isoformat()}.csv"


def staff_name(who: Any) -> str | None:
    """A person's name, or a terminal's device-token name marked "(device)"; who is a user
    or a cashdrawer.actors.Actor."""
    if who is None:
        return None
    if isinstance(who, Actor):
        return f"{who.name} (device)" if who.kind == "device" else who.name
    return who.get_full_name() or who.get_username()


def _local(moment: dt.datetime | None, location: Location) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(location.tzinfo)


# --- discrepancy overview: one row per location ------------------------------------------

DISCREPANCY_COLUMNS = (
    "location_id",
    "location",
    "currency",
    "from",
    "to",
    "sessions",
    "not_counted_sessions",
    "start_reported",
    "start_counted",
    "start_discrepancy",
    "end_expected",
    "end_counted",
    "end_discrepancy",
    "total_discrepancy",
    # Added later, at the end, so the columns above keep their places for importers.
    "first_openings",
    "first_openings_float",
    "not_counted_expected",
    "corrections",
    "corrections_total",
    "total_discrepancy_after_corrections",
)


def discrepancy_rows(
    locations: Iterable[Location],
    first: dt.date,
    last: dt.date,
    *,
    sessions: QuerySet[TrackingSession] | None = None,
) -> Iterator[list[Any]]:
    """No total row: locations may differ in currency, and a total row would be counted
    twice by anyone who sums the column."""
    for location, overview in discrepancy_by_location(locations, first, last, sessions=sessions):
        currency = location.currency
        yield [
            location.pk,
            location.name,
            currency,
            first,
            last,
            overview.sessions,
            overview.not_counted_sessions,
            Amount(overview.start_reported, currency),
            Amount(overview.start_counted, currency),
            Amount(overview.start_discrepancy, currency),
            Amount(overview.end_expected, currency),
            Amount(overview.end_counted, currency),
            Amount(overview.end_discrepancy, currency),
            Amount(overview.total_discrepancy, currency),
            overview.first_openings,
            Amount(overview.first_openings_float, currency),
            Amount(overview.not_counted_expected, currency),
            overview.corrections,
            Amount(overview.corrections_total, currency),
            Amount(overview.total_discrepancy_after_corrections, currency),
        ]


# --- cash-payments overview: one row per location ----------------------------------------

CASH_PAYMENTS_COLUMNS = (
    "location_id",
    "location",
    "currency",
    "from",
    "to",
    "gross",
    "refunds",
    "net",
    "payments_count",
    "refunds_count",
)


def cash_payments_rows(
    locations: Iterable[Location],
    first: dt.date,
    last: dt.date,
    *,
    sessions: QuerySet[TrackingSession] | None = None,
) -> Iterator[list[Any]]:
    for location, overview in cash_payments_by_location(locations, first, last, sessions=sessions):
        currency = location.currency
        yield [
            location.pk,
            location.name,
            currency,
            first,
            last,
            Amount(overview.gross, currency),
            Amount(overview.refunds, currency),
            Amount(overview.net, currency),
            overview.payments_count,
            overview.refunds_count,
        ]


# --- the session list --------------------------------------------------------------------

SESSION_COLUMNS = (
    "id",
    "location",
    "currency",
    "register",
    "register_code",
    "status",
    "opened_at",
    "closed_at",
    "opened_by",
    "closed_by",
    "opened_automatically",
    "previous_closing_float",
    "opening_float",
    "start_discrepancy",
    "cash_sales",
    "cash_refunds",
    "adjustments_in",
    "adjustments_out",
    "sub_register_cash",
    "expected_cash",
    "counted_cash",
    "end_discrepancy",
    "retained_float",
    "cash_removed",
    "total_discrepancy",
    "main_session",
    "opening_note",
    "closing_note",
    # Added later, at the end, so the columns above keep their places for importers.
    "transferred_to_main",
    "corrections_total",
    "total_discrepancy_after_corrections",
    "closing_number",
    "closing_hash",
)


def session_rows(sessions: QuerySet[TrackingSession]) -> Iterator[list[Any]]:
    """One row per session of `sessions`, in its order (give it reports.selectors.session_list).

    expected_cash is the figure stored at close, or for an open session the cash expected
    so far; counted_cash and end_discrepancy stay empty when nothing was counted.
    """
    rows = sessions.select_related(
        "register", "location", "opened_by", "opened_by_device", "closed_by", "closed_by_device"
    )
    for session in rows.iterator(chunk_size=CHUNK_ROWS):
        location = session.location
        currency = location.currency
        yield [
            session.pk,
            location.name,
            currency,
            session.register.name,
            session.register.code,
            session.status,
            _local(session.opened_at, location),
            _local(session.closed_at, location),
            staff_name(session.opened_by_actor),
            staff_name(session.closed_by_actor),
            session.opened_automatically,
            Amount(session.previous_closing_float, currency),
            Amount(session.opening_float, currency),
            Amount(session.start_discrepancy, currency),
            Amount(session.cash_sales, currency),
            Amount(session.cash_refunds, currency),
            Amount(session.adjustments_in, currency),
            Amount(session.adjustments_out, currency),
            Amount(session.sub_register_cash, currency),
            Amount(session.current_expected_cash, currency),
            Amount(session.counted_cash, currency),
            Amount(session.end_discrepancy, currency),
            Amount(session.retained_float, currency),
            Amount(session.cash_removed, currency),
            Amount(session.total_discrepancy, currency),
            session.main_session_id,
            session.opening_note,
            session.closing_note,
            Amount(session.transferred_to_main, currency),
            Amount(session.corrections_total, currency),
            Amount(session.total_discrepancy_after_corrections, currency),
            session.closing_number,
            session.closing_hash or None,
        ]


# --- corrections -------------------------------------------------------------------------

CORRECTION_COLUMNS = (
    "id",
    "at",
    "location",
    "currency",
    "register",
    "session",
    "closing_number",
    "amount",
    "reason",
    "created_by",
    "correction_number",
    "correction_hash",
)


def correction_rows(corrections: QuerySet[Correction]) -> Iterator[list[Any]]:
    """One row per correction of reports.selectors.corrections_of, signed amounts as
    recorded; `closing_number` is the corrected session's."""
    for correction in corrections.iterator(chunk_size=CHUNK_ROWS):
        session = correction.session
        location = session.location
        yield [
            correction.pk,
            _local(correction.created_at, location),
            location.name,
            location.currency,
            session.register.name,
            session.pk,
            session.closing_number,
            Amount(correction.amount, location.currency),
            correction.reason,
            staff_name(correction.created_by),
            correction.correction_number,
            correction.correction_hash,
        ]


# --- the cash journal --------------------------------------------------------------------

JOURNAL_COLUMNS = (
    "at",
    "location",
    "currency",
    "register",
    "session",
    "type",
    "record_id",
    "payment_method",
    "amount",
    "staff",
    "reason",
    "external_id",
    "late",
    "received_at",
    "to_register",
    "to_session",
)


def journal_rows(entries: Iterable[JournalEntry]) -> Iterator[list[Any]]:
    """One row per entry of reports.selectors.cash_journal. `type` is sale, refund,
    adjustment_in, adjustment_out or closing_transfer; amounts are unsigned, as recorded."""
    for entry in entries:
        session = entry.session
        location = session.location
        to_session = entry.to_session
        yield [
            _local(entry.at, location),
            location.name,
            location.currency,
            session.register.name,
            session.pk,
            entry.type,
            entry.record_id,
            entry.payment_method,
            Amount(entry.amount, location.currency),
            staff_name(entry.staff),
            entry.reason,
            entry.external_id,
            entry.late,
            _local(entry.received_at, location),
            to_session.register.name if to_session else None,
            to_session.pk if to_session else None,
        ]
