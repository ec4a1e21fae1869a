"""The cash journal CSV streamed by PostgreSQL's own COPY: the same bytes, at COPY's speed.

reports/exports.py builds the journal row by row in Python (`journal_rows` over
`cash_journal`); that stays the reference, and the path on SQLite. On PostgreSQL the file
is one `COPY (SELECT …) TO STDOUT WITH CSV`, and everything the Python path does per cell
is done in that SELECT:

- local times per location (`AT TIME ZONE location.timezone`), ISO 8601 with the offset,
  or the wall clock in excel-eu; seconds truncated, as `isoformat(timespec="seconds")`;
- amounts with the currency's minor units (cashdrawer/money.py), decimal comma in excel-eu;
- staff names as `exports.staff_name` builds them (a device's name, or its translated
  "Device token …" when it has none, then " (device)");
- text cells neutralised as `exports.safe_text` does, by testing the first character
  against the characters whose NFKC form starts like a formula (FORMULA_FIRST_CHARACTERS,
  derived from unicodedata below);
- the row order of `cash_journal`: time, then transactions before adjustments before
  closing transfers, then id.

COPY's CSV quoting is Python's csv.QUOTE_MINIMAL: a field is quoted when it holds the
delimiter, a quote, CR or LF, quotes are doubled. Two differences are bridged: COPY
quotes an empty string (to tell it from NULL), so every empty text becomes NULL (the
Python path writes both as an empty cell); and COPY ends a line with LF, where the
Python writer ends it with CRLF. PostgreSQL sends each row of a COPY as one CopyData
message (protocol docs, "COPY Operations"), and psycopg hands back one message per
read(), so each row's final LF is replaced here, never a line break inside a quoted cell.

Row order without sorting the year first: with the (occurred_at, id) and (created_at, id)
indexes (sessions_app migration 0009) the ORDER BY is a Merge Append of three index scans
in time order, and the sessions of the report are a hashed semi-join per row. The planner
picks that plan for a COPY only when sorting is turned off for the transaction (a COPY is
planned for its total time, not its first row); the scans are bounded by the first and
last time the selected sessions' rows can have (`_time_bounds`), so a report of one month
does not start reading at the first sale ever made. A small selection is simply sorted:
that is faster than reading the whole chain's range in time order.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterator

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import QuerySet

from cashdrawer.actors import device_name
from cashdrawer.models import ApiToken, Location, Register
from cashdrawer.money import CURRENCY_MINOR_UNITS
from reports import exports
from sessions_app.models import Adjustment, ClosingTransfer, TrackingSession, Transaction


def _formula_first_characters(last: int = 0xFFFF) -> tuple[str, ...]:
    """Every character up to `last` whose NFKC form starts like a formula: what
    exports.safe_text neutralises, as a list SQL can test a first character against.
    The Basic Multilingual Plane holds all of them (tests check the whole of Unicode;
    scanning it here would cost half a second at every start)."""
    return tuple(
        character
        for code in range(1, last + 1)
        if not 0xD800 <= code <= 0xDFFF  # surrogates: no text holds them alone
        and unicodedata.normalize("NFKC", character := chr(code)).startswith(exports.FORMULA_STARTS)
    )


FORMULA_FIRST_CHARACTERS = _formula_first_characters()
ALL_OF_UNICODE = sys.maxunicode

# Python's str.strip() (in User.get_full_name) strips every character that isspace();
# PostgreSQL's btrim() strips what it is given.
_PYTHON_WHITESPACE = "".join(chr(code) for code in range(1, 0x3001) if chr(code).isspace())

# The journal's order on a tie in time is transactions, adjustments, closing transfers,
# then id (reports.selectors.cash_journal). One key does it: the id, plus 2**60 for an
# adjustment and 2**61 for a transfer (ids stay far below 2**60). The (created_at, id +
# offset) indexes of sessions_app migration 0009 hold the same expressions, so the
# ORDER BY can be a Merge Append of three index scans.
ORDER_KEY_OFFSETS = {"adjustment": 2**60, "closing_transfer": 2**61}

# Above this many sessions, read in time order from the indexes instead of sorting: a
# sort must finish before the first row leaves (a year of a big chain: seconds).
SORT_AT_MOST_SESSIONS = 3000


def is_available(using: str = "default") -> bool:
    return connections[using].vendor == "postgresql"


def _literal(value: object, connection) -> str:
    """A constant as an SQL literal; "%" doubled, as the text is formatted with params."""
    from psycopg import sql

    return sql.Literal(value).as_string(connection.connection).replace("%", "%%")


def journal_sql(
    sessions: QuerySet[TrackingSession],
    dialect: exports.Dialect,
    *,
    connection,
    in_time_order: bool = False,
) -> tuple[str, list[object]]:
    """The journal's rows as one SELECT, each cell already the text its file holds.

    `in_time_order`: read in time order from the indexes (for big selections, with the
    settings of `stream_journal`), instead of reading each session's rows and sorting."""
    selected_sql, selected_params = sessions.order_by().values("pk").query.sql_with_params()
    starts = _literal(list(FORMULA_FIRST_CHARACTERS), connection)

    def safe(expression: str) -> str:
        # exports.safe_text; an empty text becomes NULL, an empty cell (not COPY's "").
        return (
            f"CASE WHEN left({expression}, 1) = ANY({starts}::text[]) "
            f"THEN '''' || {expression} ELSE NULLIF({expression}, '') END"
        )

    def time(column: str) -> str:
        # exports.format_cell of exports._local(moment, location): truncated to seconds.
        local = f"({column} AT TIME ZONE l.timezone)"
        if dialect.wall_clock_times:
            return f"to_char({local}, 'YYYY-MM-DD HH24:MI:SS')"
        # The offset as datetime.isoformat writes it: ±HH:MM, and :SS when it has seconds.
        offset = f"extract(epoch FROM {local} - ({column} AT TIME ZONE 'UTC'))::int"
        return (
            f"to_char({local}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
            f"|| CASE WHEN {offset} < 0 THEN '-' ELSE '+' END "
            f"|| to_char(abs({offset}) / 3600, 'FM00') || ':' "
            f"|| to_char(abs({offset}) %% 3600 / 60, 'FM00') "
            f"|| CASE WHEN abs({offset}) %% 60 <> 0 "
            f"THEN ':' || to_char(abs({offset}) %% 60, 'FM00') ELSE '' END"
        )

    # The currency's minor units (cashdrawer.money.minor_units: 2 when not listed). The
    # stored amounts have two decimals; one without minor units holds whole amounts only
    # (refused otherwise on entry), so round() only drops two zeros.
    places = " ".join(
        f"WHEN {_literal(code, connection)} THEN {int(units)}"
        for code, units in CURRENCY_MINOR_UNITS.items()
    )
    amount = f"round(e.amount, CASE l.currency {places} ELSE 2 END)::text"
    if dialect.decimal_separator != ".":
        amount = f"replace({amount}, '.', {_literal(dialect.decimal_separator, connection)})"

    # exports.staff_name of cashdrawer.actors.actor(user, device): the device when set.
    before, _, after = device_name(ApiToken(name="", prefix="\x00")).partition("\x00")
    staff = (
        "CASE WHEN e.device_id IS NOT NULL THEN COALESCE(NULLIF(d.name, ''), "
        f"{_literal(before, connection)} || d.prefix || {_literal(after, connection)})"
        " || ' (device)' WHEN e.user_id IS NOT NULL THEN COALESCE(NULLIF(btrim("
        f"u.first_name || ' ' || u.last_name, {_literal(_PYTHON_WHITESPACE, connection)}),"
        " ''), u.username) END"
    )
    cells = ", ".join(
        [
            time("e.at"),
            safe("l.name"),
            safe("l.currency"),
            safe("r.name"),
            "e.session_id",
            "e.type",
            "e.id",
            safe("e.payment_method"),
            amount,
            safe(f"({staff})"),
            safe("e.reason"),
            safe("e.external_id"),
            "CASE WHEN e.late THEN 'true' WHEN NOT e.late THEN 'false' END",
            time("e.received_at"),
            safe("tr.name"),
            "e.to_session_id",
        ]
    )

    def selected(column: str) -> str:
        # A join: the rows of each selected session, sorted afterwards.
        return "" if in_time_order else f"WHERE {column} IN (SELECT pk FROM selected)"

    sessions_table = TrackingSession._meta.db_table
    users_table = TrackingSession._meta.get_field("opened_by").related_model._meta.db_table
    registers_table = Register._meta.db_table
    # The three kinds of rows; `key` orders them on a tie in time (see ORDER_KEY_OFFSETS),
    # `own_session_id` is the session whose register and location an adjustment or a
    # transfer is of (a transaction has its own register).
    query = (
        f"WITH selected AS MATERIALIZED ({selected_sql}) "
        f"SELECT {cells} FROM ("
        # Every column of the same type in the three branches (casts where they differ),
        # so the planner merges the branches as they are instead of as a subquery.
        "SELECT t.occurred_at AS at, t.id AS key, t.id, t.kind::text AS type, t.session_id, "
        "NULL::bigint AS own_session_id, t.register_id, t.payment_method::text, "
        "t.amount::numeric, NULL::text AS reason, t.external_id::text, t.late, "
        "t.received_at, t.recorded_by_id::bigint AS user_id, "
        "t.recorded_by_device_id AS device_id, NULL::bigint AS to_session_id "
        f"FROM {Transaction._meta.db_table} t {selected('t.session_id')} "
        "UNION ALL "
        f"SELECT a.created_at, a.id + {ORDER_KEY_OFFSETS['adjustment']}, a.id, "
        "('adjustment_' || a.direction)::text, a.session_id, a.session_id, NULL::bigint, "
        "NULL::text, a.amount::numeric, a.reason::text, NULL::text, NULL::boolean, "
        "NULL::timestamptz, a.created_by_id::bigint, a.created_by_device_id, NULL::bigint "
        f"FROM {Adjustment._meta.db_table} a {selected('a.session_id')} "
        "UNION ALL "
        f"SELECT c.created_at, c.id + {ORDER_KEY_OFFSETS['closing_transfer']}, c.id, "
        "'closing_transfer'::text, c.sub_session_id, c.sub_session_id, NULL::bigint, "
        "NULL::text, c.amount::numeric, NULL::text, NULL::text, NULL::boolean, "
        "NULL::timestamptz, c.created_by_id::bigint, c.created_by_device_id, "
        "c.main_session_id "
        f"FROM {ClosingTransfer._meta.db_table} c {selected('c.sub_session_id')}"
        ") e "
        f"LEFT JOIN {sessions_table} s ON s.id = e.own_session_id "
        f"JOIN {registers_table} r ON r.id = COALESCE(e.register_id, s.register_id) "
        f"JOIN {Location._meta.db_table} l ON l.id = COALESCE(s.location_id, r.location_id) "
        f"LEFT JOIN {users_table} u ON u.id = e.user_id "
        f"LEFT JOIN {ApiToken._meta.db_table} d ON d.id = e.device_id "
        f"LEFT JOIN {sessions_table} m ON m.id = e.to_session_id "
        f"LEFT JOIN {registers_table} tr ON tr.id = m.register_id "
        # In time order a filter instead, on the merged rows (on each branch it would keep
        # the planner from merging them): each row is tested against a hash of the
        # selected sessions as the rows are read in time order from the indexes.
        + ("WHERE (e.session_id IN (SELECT pk FROM selected)) IS TRUE " if in_time_order else "")
        + "ORDER BY e.at, e.key"
    )
    return query, list(selected_params)


def plan_settings(in_time_order: bool) -> list[str]:
    """SET LOCAL statements for the journal's query (see stream_journal)."""
    settings = ["SET LOCAL jit = off"]
    if in_time_order:
        settings += [
            f"SET LOCAL {name} = off"
            for name in ("enable_sort", "enable_hashjoin", "enable_mergejoin")
        ]
    return settings


def copy_statement(query: str, dialect: exports.Dialect) -> str:
    assert dialect.delimiter in {",", ";"}  # inlined below
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER '{dialect.delimiter}')"


def stream_journal(
    sessions: QuerySet[TrackingSession], dialect: exports.Dialect, *, using: str = "default"
) -> Iterator[bytes]:
    """The journal file as chunks of bytes, equal to exports.stream_csv of journal_rows.

    The COPY runs in a transaction of its own (a savepoint inside one): when the client
    goes away, the generator is closed, psycopg cancels the COPY and drains it, and the
    transaction is rolled back, so the connection is ready for the next request."""
    head = "".join(exports.stream_csv(exports.JOURNAL_COLUMNS, (), dialect)).encode()
    connection = connections[using]
    connection.ensure_connection()  # journal_sql quotes its constants for this connection
    try:
        in_time_order = sessions.order_by().count() > SORT_AT_MOST_SESSIONS
        query, params = journal_sql(
            sessions, dialect, connection=connection, in_time_order=in_time_order
        )
    except EmptyResultSet:  # a selection Django knows is empty, such as .none()
        yield head
        return
    with transaction.atomic(using=using), connection.connection.cursor() as cursor:
        # Planned for a COPY, the query gets the plan of the least total time: for a big
        # selection that is reading everything and sorting it, seconds before the first
        # row. Sorting and the joins that lose the order are ruled out instead, so rows
        # come from the time-ordered indexes as they are read. JIT compiling would only
        # add a second or so of start-up.
        for setting in plan_settings(in_time_order):
            cursor.execute(setting)
        yield from _copy_rows(cursor, copy_statement(query, dialect), params, head)


def _copy_rows(cursor, statement: str, params: list[object], head: bytes) -> Iterator[bytes]:
    with cursor.copy(statement, params) as copy:
        # One row per read(), its LF last: the join ends each line with CRLF. The first
        # row goes out at once (the time to the first byte is the query's).
        chunk: list[bytes | memoryview] = [head[:-2]]  # the header, without its CRLF
        size = 0
        sent = False
        for row in copy:
            chunk.append(row[:-1])
            size += len(row)
            if not sent or size >= exports.CHUNK_CHARS:
                chunk.append(b"")
                yield b"\r\n".join(chunk)
                chunk, size, sent = [], 0, True
        if chunk:
            chunk.append(b"")
            yield b"\r\n".join(chunk)
