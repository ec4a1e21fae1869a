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
indexes (sessions_app migrations 0010 and 0011) the ORDER BY is a Merge Append of three index
scans in time order, each row's session looked up among the selected (a semi-join, cached
per session). The planner picks that plan for a COPY only when sorting is turned off for
the transaction (a COPY is planned for its total time, not its first row). A selection
that is only a part of the chain's time is read between the first and last time its rows
can have (`_time_bounds`, from the data), so a report of one month does not start
reading at the first sale ever made. A small selection is simply sorted: that is faster
than reading the whole chain's range in time order (`_read_order`).
"""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import QuerySet

from cashdrawer.actors import device_name
from cashdrawer.db_router import reading_from
from cashdrawer.models import ApiToken, Location, Register
from cashdrawer.money import CURRENCY_MINOR_UNITS
from reports import exports
from sessions_app.models import (
    JOURNAL_BLOCK,
    Adjustment,
    ClosingTransfer,
    TrackingSession,
    Transaction,
)


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
# offset) indexes of sessions_app migration 0011 hold the same expressions, so the
# ORDER BY can be a Merge Append of three index scans.
ORDER_KEY_OFFSETS = {"adjustment": 2**60, "closing_transfer": 2**61}

# Above this many sessions, read in time order from the indexes instead of sorting: a
# sort must finish before the first row leaves (a year of a big chain: seconds).
SORT_AT_MOST_SESSIONS = 3000


# The first and last time a branch's rows of the selected sessions can have; (None, None)
# when it has none.
Span = tuple[dt.datetime | None, dt.datetime | None]


@dataclass(frozen=True)
class TimeBounds:
    """Where in time the rows of a selection of sessions lie, per branch of the journal."""

    transactions: Span
    adjustments: Span
    transfers: Span
    window_sessions: int  # sessions opened between the first and the last of those times


def is_available(using: str | None = None) -> bool:
    return connections[using or reading_from()].vendor == "postgresql"


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
    bounds: TimeBounds | None = None,
) -> tuple[str, list[object]]:
    """The journal's rows as one SELECT, each cell already the text its file holds.

    `in_time_order`: read in time order from the indexes (for big selections, with the
    settings of `stream_journal`), instead of reading each session's rows and sorting;
    `bounds` (`_time_bounds`): each branch's scan only between the first and the last
    time its rows of the selected sessions can have."""
    selected_sql, selected_params = sessions.order_by().values("pk").query.sql_with_params()
    starts = _literal(list(FORMULA_FIRST_CHARACTERS), connection)

    def safe(expression: str) -> str:
        # exports.safe_text; an empty text becomes NULL, an empty cell (not COPY's "").
        return (
            f"CASE WHEN left({expression}, 1) = ANY({starts}::text[]) "
            f"THEN '''' || {expression} ELSE NULLIF({expression}, '') END"
        )

    def time(local: str, offset: str) -> str:
        # exports.format_cell of exports._local(moment, location), truncated to seconds:
        # the local time (computed once a row, below) as text in ISO style, its "T" put in.
        text = f"left({local}::text, 19)"
        if dialect.wall_clock_times:
            return text
        # The offset as datetime.isoformat writes it: ±HH:MM, and :SS when it has seconds.
        return (
            f"overlay({text} placing 'T' from 11) "
            f"|| CASE WHEN {offset} < 0 THEN '-' ELSE '+' END "
            f"|| lpad((abs({offset}) / 3600)::text, 2, '0') || ':' "
            f"|| lpad((abs({offset}) %% 3600 / 60)::text, 2, '0') "
            f"|| CASE WHEN abs({offset}) %% 60 <> 0 "
            f"THEN ':' || lpad((abs({offset}) %% 60)::text, 2, '0') ELSE '' END"
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

    def staff(user_id: str, device_id: str) -> str:
        return (
            f"CASE WHEN {device_id} IS NOT NULL THEN COALESCE(NULLIF(d.name, ''), "
            f"{_literal(before, connection)} || d.prefix || {_literal(after, connection)})"
            f" || ' (device)' WHEN {user_id} IS NOT NULL THEN COALESCE(NULLIF(btrim("
            f"u.first_name || ' ' || u.last_name, {_literal(_PYTHON_WHITESPACE, connection)}),"
            " ''), u.username) END"
        )

    cells = ", ".join(
        [
            time("g.local_at", "g.at_offset"),
            safe("g.location_name"),
            safe("g.currency"),
            safe("g.register_name"),
            "g.session_id",
            "g.type",
            "g.id",
            safe("g.payment_method"),
            "g.amount_text",
            safe("g.staff"),
            safe("g.reason"),
            safe("g.external_id"),
            "CASE WHEN g.late THEN 'true' WHEN NOT g.late THEN 'false' END",
            time("g.local_received", "g.received_offset"),
            safe("g.to_register_name"),
            "g.to_session_id",
        ]
    )

    def rows_of(model, alias: str, column: str) -> str:
        # Sorted afterwards: only the rows of the selected sessions, found first (OFFSET 0
        # keeps the planner from joining every transfer of the chain to its sessions
        # before it filters them: 1.5 s for one store's month).
        table = quote(model._meta.db_table)
        if in_time_order:
            return f"{table} {alias} "
        return (
            f"(SELECT * FROM {table} WHERE {column} IN (SELECT pk FROM selected) OFFSET 0) {alias} "
        )

    quote = connection.ops.quote_name  # as Django writes table names
    sessions_table = quote(TrackingSession._meta.db_table)
    users_table = quote(TrackingSession._meta.get_field("opened_by").related_model._meta.db_table)
    registers_table = quote(Register._meta.db_table)
    locations_table = quote(Location._meta.db_table)
    tokens_table = quote(ApiToken._meta.db_table)

    def names(register: str, user_id: str, device_id: str) -> str:
        # The register, its location (a register never changes location once it has
        # sessions, so it is the session's) and who recorded the row, joined in each
        # branch: there the keys are columns with statistics, and the planner caches the
        # few registers and people (Memoize) instead of looking one up for every row.
        return (
            f"JOIN {registers_table} r ON r.id = {register} "
            f"JOIN {locations_table} l ON l.id = r.location_id "
            f"LEFT JOIN {users_table} u ON u.id = {user_id} "
            f"LEFT JOIN {tokens_table} d ON d.id = {device_id} "
        )

    # Every column of the same type in the three branches (casts where they differ), so
    # the planner merges the branches as they are instead of as a subquery.
    named = (
        "l.name::text AS location_name, l.currency::text AS currency, "
        "l.timezone::text AS timezone, r.name::text AS register_name"
    )

    def branch(select: str, order: str, session: str, span: Span | None) -> str:
        # In time order each branch is read in its own index's order: a branch with joins
        # is planned as a subquery, and one without an ORDER BY of its own keeps no
        # ordered plan for the Merge Append to use.
        if not in_time_order:
            return select
        # Each row's session is looked up among the selected (a semi-join on the session's
        # key, which the planner caches per session: Memoize), not tested against a hash
        # of them: that hash was built before the first row, 146,000 sessions for a year
        # of 50 stores (150 to 600 ms).
        where = [f"EXISTS (SELECT FROM ({selected_sql}) x WHERE x.pk = {session})"]
        if span is not None:
            time_column = order.partition(",")[0]
            first, last = span
            where.append(
                "false"  # none of the selected sessions has such rows
                if first is None
                else f"{time_column} BETWEEN {_literal(first, connection)}::timestamptz "
                f"AND {_literal(last, connection)}::timestamptz"
            )
        return f"({select}WHERE {' AND '.join(where)} ORDER BY {order})"

    branches = " UNION ALL ".join(
        [
            branch(
                # `key` orders the rows on a tie in time (see ORDER_KEY_OFFSETS).
                "SELECT t.occurred_at AS at, t.id AS key, t.id, t.kind::text AS type, "
                "t.session_id, t.payment_method::text AS payment_method, "
                "t.amount::numeric AS amount, NULL::text AS reason, "
                "t.external_id::text AS external_id, t.late, t.received_at, "
                f"NULL::bigint AS to_session_id, NULL::text AS to_register_name, {named}, "
                f"({staff('t.recorded_by_id', 't.recorded_by_device_id')})::text AS staff "
                "FROM "
                + rows_of(Transaction, "t", "session_id")
                + names("t.register_id", "t.recorded_by_id", "t.recorded_by_device_id"),
                "t.occurred_at, t.id",
                "t.session_id",
                bounds and bounds.transactions,
            ),
            branch(
                f"SELECT a.created_at, a.id + {ORDER_KEY_OFFSETS['adjustment']}, a.id, "
                "('adjustment_' || a.direction)::text, a.session_id, NULL::text, "
                "a.amount::numeric, a.reason::text, NULL::text, NULL::boolean, "
                f"NULL::timestamptz, NULL::bigint, NULL::text, {named}, "
                f"({staff('a.created_by_id', 'a.created_by_device_id')})::text "
                "FROM "
                + rows_of(Adjustment, "a", "session_id")
                + f"JOIN {sessions_table} s ON s.id = a.session_id "
                + names("s.register_id", "a.created_by_id", "a.created_by_device_id"),
                f"a.created_at, a.id + {ORDER_KEY_OFFSETS['adjustment']}",
                "a.session_id",
                bounds and bounds.adjustments,
            ),
            branch(
                f"SELECT c.created_at, c.id + {ORDER_KEY_OFFSETS['closing_transfer']}, c.id, "
                "'closing_transfer'::text, c.sub_session_id, NULL::text, c.amount::numeric, "
                "NULL::text, NULL::text, NULL::boolean, NULL::timestamptz, "
                f"c.main_session_id::bigint, tr.name::text, {named}, "
                f"({staff('c.created_by_id', 'c.created_by_device_id')})::text "
                "FROM "
                + rows_of(ClosingTransfer, "c", "sub_session_id")
                + f"JOIN {sessions_table} s ON s.id = c.sub_session_id "
                + names("s.register_id", "c.created_by_id", "c.created_by_device_id")
                + f"LEFT JOIN {sessions_table} m ON m.id = c.main_session_id "
                f"LEFT JOIN {registers_table} tr ON tr.id = m.register_id ",
                f"c.created_at, c.id + {ORDER_KEY_OFFSETS['closing_transfer']}",
                "c.sub_session_id",
                bounds and bounds.transfers,
            ),
        ]
    )
    if in_time_order:
        # The branches merged in time order (each has found its selected rows).
        rows = f"(SELECT * FROM ({branches}) b ORDER BY b.at, b.key OFFSET 0) e "
    else:
        rows = f"({branches}) e "
    # Then (f) the amount and the local times, and (g) the zones' offsets, each level
    # fenced by OFFSET 0 so that a value is computed once a row and not once per use;
    # every level is in the journal's order, so the outer ORDER BY costs nothing.
    amount = amount.replace("l.currency", "e.currency")
    query = (
        ("" if in_time_order else f"WITH selected AS MATERIALIZED ({selected_sql}) ")
        + f"SELECT {cells} FROM ("
        "SELECT f.*, (date_part('epoch', f.local_at) - date_part('epoch', f.at))::int"
        " AS at_offset, (date_part('epoch', f.local_received)"
        " - date_part('epoch', f.received_at))::int AS received_offset FROM ("
        f"SELECT e.*, {amount} AS amount_text, e.at AT TIME ZONE e.timezone AS local_at, "
        "e.received_at AT TIME ZONE e.timezone AS local_received "
        f"FROM {rows}"
        "ORDER BY e.at, e.key OFFSET 0) f ORDER BY f.at, f.key OFFSET 0) g "
        "ORDER BY g.at, g.key"
    )
    # In time order the selection is written once in each branch, in the text's order.
    return query, list(selected_params) * (3 if in_time_order else 1)


def plan_settings(in_time_order: bool) -> list[str]:
    """SET LOCAL statements for the journal's query (see stream_journal)."""
    # The local times are cut from their text in ISO style (journal_sql's time()).
    settings = [
        "SET LOCAL jit = off",
        "SET LOCAL max_parallel_workers_per_gather = 0",
        "SET LOCAL DateStyle = 'ISO, YMD'",
    ]
    if in_time_order:
        settings += [
            f"SET LOCAL {name} = off"
            for name in ("enable_sort", "enable_hashjoin", "enable_mergejoin")
        ]
    return settings


def copy_statement(query: str, dialect: exports.Dialect) -> str:
    assert dialect.delimiter in {",", ";"}  # inlined below
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER '{dialect.delimiter}')"


def _time_bounds(sessions: QuerySet[TrackingSession], *, connection) -> TimeBounds:
    """Each branch's first and last time among the rows of the selected sessions, from
    the data itself: a late sale may lie up to LATE_SALES_LIMIT_DAYS before its session,
    and that limit can change, so no bound follows from the sessions' own times.

    One probe per block of JOURNAL_BLOCK session ids, not one per session: the last
    month of 50 stores is 400 blocks (about 40 ms) instead of 12,800 sessions (about
    200 ms). A block's other sessions may widen the bounds a little, never narrow them.
    The transactions have an index for it (transaction_journal_bounds); adjustments and
    transfers, a few a session, are read through their session's index."""
    selected_sql, params = sessions.order_by().values("pk").query.sql_with_params()
    quote = connection.ops.quote_name

    def span(model, session_column: str, time_column: str, of_block: str) -> str:
        return (
            f"CROSS JOIN LATERAL (SELECT min({time_column}) AS first, "
            f"max({time_column}) AS last FROM {quote(model._meta.db_table)} "
            f"WHERE {of_block.format(session=session_column)}) {model._meta.model_name} "
        )

    # The transactions' condition is the index's own expression, so each probe is one
    # descent of that index at either end of the block.
    by_expression = f"{{session}} / {JOURNAL_BLOCK} = b.block"
    by_range = (
        f"{{session}} BETWEEN b.block * {JOURNAL_BLOCK} "
        f"AND b.block * {JOURNAL_BLOCK} + {JOURNAL_BLOCK - 1}"
    )
    spans = ", ".join(
        f"min({name}.first) AS {name}_first, max({name}.last) AS {name}_last"
        for name in ("transaction", "adjustment", "closingtransfer")
    )
    query = (
        f"WITH blocks AS (SELECT DISTINCT s.pk / {JOURNAL_BLOCK} AS block "
        f"FROM ({selected_sql}) s(pk)), spans AS (SELECT {spans} FROM blocks b "
        + span(Transaction, "session_id", "occurred_at", by_expression)
        + span(Adjustment, "session_id", "created_at", by_range)
        + span(ClosingTransfer, "sub_session_id", "created_at", by_range)
        + f") SELECT spans.*, (SELECT count(*) FROM {quote(TrackingSession._meta.db_table)} "
        "WHERE opened_at BETWEEN least(transaction_first, adjustment_first, "
        "closingtransfer_first) AND greatest(transaction_last, adjustment_last, "
        "closingtransfer_last)) FROM spans"
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Its cost estimate is far above the work (the planner expects a block's every
        # row read, not its first and last): JIT compiling it took 2.4 s.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(query, params)
        times = cursor.fetchone()
    return TimeBounds(times[0:2], times[2:4], times[4:6], times[6])


def _read_order(
    sessions: QuerySet[TrackingSession], *, connection
) -> tuple[bool, TimeBounds | None]:
    """Whether the journal reads in time order from the indexes instead of sorting, and
    between which bounds.

    In time order the first row leaves at once, but the scan walks every row of its
    stretch of time and keeps the selected ones. Most of the chain's sessions (a year of
    all stores): from the chain's first row (bounds would cost more than they save). A
    selection that is most of the sessions of its own stretch of time (the last month of
    all stores): between its bounds, so the scan starts at its first row, not months of
    other rows before it (54 s to the first byte of that month without them). Any other,
    and any small one: sorted, which is faster than walking other stores' rows."""
    selected = sessions.order_by().count()
    if selected <= SORT_AT_MOST_SESSIONS:
        return False, None
    if 2 * selected >= TrackingSession.objects.using(sessions.db).count():
        return True, None
    bounds = _time_bounds(sessions, connection=connection)
    return 2 * selected >= bounds.window_sessions, bounds


def stream_journal(
    sessions: QuerySet[TrackingSession], dialect: exports.Dialect, *, using: str | None = None
) -> Iterator[bytes]:
    """The journal file as chunks of bytes, equal to exports.stream_csv of journal_rows.

    Read from the database reads go to when the download starts (the replica inside a
    report view, cashdrawer/db_router.py), in one transaction of its own (a savepoint
    inside one), as exports.csv_response reads: when the client goes away, the generator
    is closed, psycopg cancels the COPY and reads what the server had sent already, and
    the transaction is rolled back, so the connection is ready for the next request."""
    head = "".join(exports.stream_csv(exports.JOURNAL_COLUMNS, (), dialect)).encode()
    using = using or reading_from()
    connection = connections[using]
    connection.ensure_connection()  # journal_sql quotes its constants for this connection
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost:
            # One snapshot for the choice of plan, the bounds and the COPY: a sale
            # committed in between (a terminal posting to an open session of the range)
            # is either in all of them or in none, never cut off by bounds read before it.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        try:
            in_time_order, bounds = _read_order(sessions.using(using), connection=connection)
            query, params = journal_sql(
                sessions.using(using),
                dialect,
                connection=connection,
                in_time_order=in_time_order,
                bounds=bounds,
            )
        except EmptyResultSet:  # a selection Django knows is empty, such as .none()
            yield head
            return
        statement = copy_statement(query, dialect)
        with connection.connection.cursor() as cursor:
            # Planned for a COPY, the query gets the plan of the least total time: for a
            # big selection that is reading everything and sorting it, seconds before the
            # first row. Sorting and the joins that lose the order are ruled out instead,
            # so rows come from the time-ordered indexes as they are read. JIT compiling
            # would only add a second or so of start-up.
            for setting in plan_settings(in_time_order):
                cursor.execute(setting)
            if connection.queries_logged:
                # The raw cursor bypasses Django's query log: show the COPY to the debug
                # tools and the tests that count and place a report's queries.
                connection.queries_log.append({"sql": statement, "time": "0.000"})
            yield from _copy_rows(cursor, statement, params, head)


def _copy_rows(cursor, statement: str, params: list[object], head: bytes) -> Iterator[bytes]:
    if not params:
        # psycopg formats a statement only when it has parameters; its "%%" would reach
        # the server as they are (a selection without a filter, such as every session).
        statement = statement.replace("%%", "%")
    with cursor.copy(statement, params or None) as copy:
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
