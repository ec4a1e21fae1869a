"""Closing numbers and the hash chain: a closed session's records can be shown unedited.

Every close of a register gets the next closing number (1, 2, 3 …, assigned under the
register's lock; a unique constraint refuses a repeat) and a closing hash: SHA-256 over a
canonical serialisation of the closed session and its records, which includes the
register's previous closing hash. Corrections are numbered and chained the same way per
register, on a sequence of their own. `manage.py verify_journal` recomputes every chain.

The canonical serialisation (docs/DOMAIN.md, "Closing numbers and the hash chain"):

- a JSON object with the keys `format`, `previous_hash` and, for a close, `session`,
  `transactions`, `adjustments`, `counts` and `transfers` (for a correction: `correction`);
- a record is a JSON array of its fields in the order of the lists below; records are
  ordered by id (count lines by stage, then face value from the highest);
- amounts are strings with exactly two decimals ("-12.30"), times are UTC strings with
  microseconds ("2026-11-02T09:31:39.123456Z"), ids and counts are integers, flags are
  true/false, an empty value is null, texts are as stored;
- serialised with sorted keys, no whitespace (separators "," and ":"), UTF-8, non-ASCII
  characters as themselves; the hash is the lowercase hex SHA-256 of those bytes;
- `previous_hash` of a register's first close (or first correction) is "".

The functions here work on plain rows (values_list), so the migration that numbered the
closes made before this existed uses them unchanged with its historical models.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from multiprocessing import get_context
from typing import Any

from django.db import connections
from django.db.models import CharField, DateTimeField, DecimalField, F, Func, TextField
from django.db.models.functions import Cast

CLOSE_FORMAT = "cashdrawer-close/1"
CORRECTION_FORMAT = "cashdrawer-correction/1"

SESSION_FIELDS = (
    "id",
    "register_id",
    "location_id",
    "main_session_id",
    "blind_close",
    "opened_at",
    "opened_by_id",
    "opened_by_device_id",
    "opened_automatically",
    "opening_note",
    "opening_float",
    "previous_closing_float",
    "start_discrepancy",
    "cash_sales",
    "cash_sales_count",
    "cash_refunds",
    "cash_refunds_count",
    "total_sales",
    "total_refunds",
    "adjustments_in",
    "adjustments_out",
    "sub_register_cash",
    "closed_at",
    "closed_by_id",
    "closed_by_device_id",
    "closing_note",
    "expected_cash",
    "counted_cash",
    "end_discrepancy",
    "retained_float",
    "cash_removed",
    "transferred_to_main",
    "total_discrepancy",
    "closing_number",
)
TRANSACTION_FIELDS = (
    "id",
    "kind",
    "payment_method",
    "amount",
    "occurred_at",
    "received_at",
    "external_id",
    "late",
    "recorded_by_id",
    "recorded_by_device_id",
)
ADJUSTMENT_FIELDS = (
    "id",
    "direction",
    "amount",
    "reason",
    "created_at",
    "created_by_id",
    "created_by_device_id",
)
COUNT_FIELDS = ("stage", "value", "quantity")
TRANSFER_FIELDS = (
    "id",
    "sub_session_id",
    "main_session_id",
    "amount",
    "created_at",
    "created_by_id",
    "created_by_device_id",
)
# Without its id, which the database assigns only when the sealed row is inserted; the
# register and number identify a correction within the chain.
CORRECTION_FIELDS = (
    "session_id",
    "register_id",
    "correction_number",
    "amount",
    "reason",
    "created_at",
    "created_by_id",
)

CENT = Decimal("0.01")


def _decimal(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def _float(value: float) -> str:  # SQLite may hand back a REAL; never PostgreSQL
    return _decimal(Decimal(str(value)))


def _datetime(value: dt.datetime) -> str:
    if value.utcoffset():
        value = value.astimezone(dt.UTC)
    # isoformat is far cheaper than strftime; its first 26 characters are the local time,
    # which is UTC here: "2026-11-02T09:31:39.123456".
    return value.isoformat(timespec="microseconds")[:26] + "Z"


# Canonical forms by type; ints, texts, flags and None are their own.
_CONVERT = {Decimal: _decimal, float: _float, dt.datetime: _datetime}


def _record(row: Sequence[Any]) -> list[Any]:
    convert = _CONVERT.get
    # verify_journal calls this for every row of the history: kept to one comprehension.
    return [c(v) if (c := convert(type(v))) is not None else v for v in row]


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(document).encode("utf-8")).hexdigest()


def close_hash(
    *,
    session: Sequence[Any],
    transactions: Iterable[Sequence[Any]],
    adjustments: Iterable[Sequence[Any]],
    counts: Iterable[Sequence[Any]],
    transfers: Iterable[Sequence[Any]],
    previous_hash: str,
) -> str:
    """The closing hash of one session: its row (any Python values) and its records'
    rows in canonical form, each in the field order above (as _children gives them)."""
    return digest(
        {
            "format": CLOSE_FORMAT,
            "previous_hash": previous_hash,
            "session": _record(session),
            # Rows from _children are already in canonical form (JSON writes a tuple as
            # an array): for a year of closes, converting every value again was most of
            # verify_journal's time.
            "transactions": sorted(transactions, key=_first),
            "adjustments": sorted(adjustments, key=_first),
            "counts": sorted(counts, key=_count_order),
            "transfers": sorted(transfers, key=_first),
        }
    )


def correction_hash(*, correction: Sequence[Any], previous_hash: str) -> str:
    return digest(
        {
            "format": CORRECTION_FORMAT,
            "previous_hash": previous_hash,
            "correction": _record(correction),
        }
    )


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def _count_order(row: Sequence[Any]) -> tuple[str, Decimal]:
    return (row[0], -Decimal(row[1]))


# --- sealing a close and a correction (called by the services, under the register lock) ---


def _models():
    from sessions_app.models import (
        Adjustment,
        ClosingTransfer,
        Correction,
        CountLine,
        TrackingSession,
        Transaction,
    )

    return TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction


def seal_close(session: Any) -> None:
    """Give a session being closed its closing number and hash (not saved here).

    The caller holds the register's lock and has set every closing figure; the session's
    rows (transactions, adjustments, count lines, transfers) are already written.
    """
    TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, _c = _models()
    db = Transaction.objects.filter(session_id=session.pk).db
    if connections[db].vendor == "postgresql":
        _seal_close_postgresql(session, using=db)
        return
    last = (
        TrackingSession.objects.filter(
            register_id=session.register_id, closing_number__isnull=False
        )
        .order_by("-closing_number")
        .values_list("closing_number", "closing_hash")
        .first()
    )
    number, previous_hash = last if last else (0, "")
    session.closing_number = number + 1
    record = [getattr(session, field) for field in SESSION_FIELDS]
    children = _children([session.pk], Transaction, Adjustment, CountLine, ClosingTransfer)
    session.closing_hash = close_hash(
        session=record, previous_hash=previous_hash, **children[session.pk]
    )


# The records of a close in the document's key order, each replacing its empty list.
_CLOSE_RECORDS = ("adjustments", "counts", "transactions", "transfers")


def _seal_close_postgresql(session: Any, *, using: str) -> None:
    """seal_close on PostgreSQL: one statement, written once, reads the register's last
    closing number and hash and writes the session's records as their canonical JSON.

    A busy session has thousands of transactions: PostgreSQL writes their records itself,
    which spares reading each value into Python and writing it out again (most of a
    close's time with 2,000 of them). The adjustments, count lines and transfers are
    written the same way in the same statement: read with the ORM they were five more
    queries, and building them took longer than PostgreSQL took to run them. The
    document is the same, byte for byte: verify_journal recomputes it from the rows."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            _seal_close_sql(using), {"session": session.pk, "register": session.register_id}
        )
        number, previous_hash, *records = cursor.fetchone()
    session.closing_number = (number or 0) + 1
    record = [getattr(session, field) for field in SESSION_FIELDS]
    document = _canonical(
        {
            "format": CLOSE_FORMAT,
            "previous_hash": previous_hash or "",
            "session": _record(record),
            **{name: [] for name in _CLOSE_RECORDS},
        }
    )
    # Inside a JSON text every quote of a string value is escaped, so a key is the only
    # place these characters can occur.
    for name, text in zip(_CLOSE_RECORDS, records, strict=True):
        document = document.replace(f'"{name}":[]', f'"{name}":[{text}]', 1)
    session.closing_hash = hashlib.sha256(document.encode("utf-8")).hexdigest()


@cache
def _seal_close_sql(using: str) -> str:
    TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, _c = _models()
    quote = connections[using].ops.quote_name

    def column(model: Any, name: str) -> str:
        return quote(_field(model._meta, name).column)

    def of_session(model: Any, *names: str) -> str:
        return " OR ".join(f"{column(model, name)} = %(session)s" for name in names)

    # Sorted as close_hash sorts them: by id; count lines by stage, then face value from
    # the highest (the stage compared as Python compares texts, by code point).
    records = {
        "adjustments": _json_records_sql(
            Adjustment, ADJUSTMENT_FIELDS, of_session(Adjustment, "session_id"), None, using
        ),
        "counts": _json_records_sql(
            CountLine,
            COUNT_FIELDS,
            of_session(CountLine, "session_id"),
            f'{column(CountLine, "stage")} COLLATE "C", {column(CountLine, "value")} DESC',
            using,
        ),
        "transactions": _json_records_sql(
            Transaction, TRANSACTION_FIELDS, of_session(Transaction, "session_id"), None, using
        ),
        "transfers": _json_records_sql(
            ClosingTransfer,
            TRANSFER_FIELDS,
            of_session(ClosingTransfer, "sub_session_id", "main_session_id"),
            None,
            using,
        ),
    }
    number, closing_hash = (
        column(TrackingSession, "closing_number"),
        column(TrackingSession, "closing_hash"),
    )
    return (
        f"SELECT last.{number}, last.{closing_hash}, "
        + ", ".join(f"({records[name]})" for name in _CLOSE_RECORDS)
        + f" FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT {number}, {closing_hash}"
        f" FROM {quote(TrackingSession._meta.db_table)}"
        f" WHERE {column(TrackingSession, 'register_id')} = %(register)s"
        f" AND {number} IS NOT NULL ORDER BY {number} DESC LIMIT 1) last ON true"
    )


def _json_records_sql(
    model: Any, fields: Sequence[str], where: str, order: str | None, using: str
) -> str:
    """A SELECT of the rows of `model` matching `where` as canonical JSON records (arrays
    of `fields`) in `order` (by id without one), joined by commas ('' without any), made
    by PostgreSQL: the text json.dumps makes of the rows _rows reads. PostgreSQL escapes
    a string as Python's json module does without ensure_ascii: a quote, a backslash and
    the control characters, those without a short form as a lowercase \\u00xx; every
    other character is itself."""
    meta = model._meta
    order = order or connections[using].ops.quote_name(meta.pk.column)
    values = []
    for name in fields:
        field = _field(meta, name)
        column = connections[using].ops.quote_name(field.column)
        if isinstance(field, DateTimeField):
            value = (
                f"to_json(to_char({column} AT TIME ZONE 'UTC', "
                """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))"""
            )
        elif isinstance(field, DecimalField):
            value = f"to_json({column}::text)"
        else:
            value = f"to_json({column})"
        values.append(f"COALESCE({value}::text, 'null')")
    return (
        f"SELECT COALESCE(string_agg('[' || concat_ws(',', {', '.join(values)}) || ']', ',' "
        f"ORDER BY {order}), '') FROM {connections[using].ops.quote_name(meta.db_table)} "
        f"WHERE {where}"
    )


def seal_correction(correction: Any) -> None:
    """Give a correction being created its number and hash (not saved here)."""
    *_rest, Correction = _models()
    last = (
        Correction.objects.filter(register_id=correction.register_id)
        .order_by("-correction_number")
        .values_list("correction_number", "correction_hash")
        .first()
    )
    number, previous_hash = last if last else (0, "")
    correction.correction_number = number + 1
    correction.correction_hash = correction_hash(
        correction=[getattr(correction, field) for field in CORRECTION_FIELDS],
        previous_hash=previous_hash,
    )


class _UtcText(Func):
    """A time as its canonical text, made by PostgreSQL: "2026-11-02T09:31:39.123456Z"."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = CharField()


def _field(meta: Any, name: str) -> Any:
    """A model field by its name or by its column's attribute name ("session_id")."""
    for field in meta.concrete_fields:
        if name in (field.name, field.attname):
            return field
    raise LookupError(name)


def _rows(queryset: Any, fields: Sequence[str]) -> Any:
    """values_list of `fields`; on PostgreSQL with times and amounts already in their
    canonical text, which spares Python most of the work of a year's verification (the
    forms are the same ones _record makes: numeric(p, 2)::text keeps its two decimals)."""
    if connections[queryset.db].vendor != "postgresql":
        return [tuple(_record(row)) for row in queryset.values_list(*fields)]
    meta = queryset.model._meta
    names, annotations = [], {}
    for name in fields:
        field = _field(meta, name)
        if isinstance(field, DateTimeField):
            annotations[f"canonical_{name}"] = _UtcText(F(name))
        elif isinstance(field, DecimalField):
            annotations[f"canonical_{name}"] = Cast(F(name), TextField())
        else:
            names.append(name)
            continue
        names.append(f"canonical_{name}")
    return queryset.annotate(**annotations).values_list(*names)


def _children(
    session_ids: Sequence[int],
    Transaction,
    Adjustment,
    CountLine,
    ClosingTransfer,
    *,
    transactions: bool = True,
) -> dict[int, dict[str, list[tuple]]]:
    """Every row a closing hash covers, for many sessions in five queries (four without
    the transactions)."""
    result: dict[int, dict[str, list[tuple]]] = {
        pk: {"transactions": [], "adjustments": [], "counts": [], "transfers": []}
        for pk in session_ids
    }
    if transactions:
        for row in _rows(
            Transaction.objects.filter(session_id__in=session_ids),
            ("session_id", *TRANSACTION_FIELDS),
        ):
            result[row[0]]["transactions"].append(row[1:])
    for row in _rows(
        Adjustment.objects.filter(session_id__in=session_ids), ("session_id", *ADJUSTMENT_FIELDS)
    ):
        result[row[0]]["adjustments"].append(row[1:])
    for row in _rows(
        CountLine.objects.filter(session_id__in=session_ids), ("session_id", *COUNT_FIELDS)
    ):
        result[row[0]]["counts"].append(row[1:])
    wanted = set(session_ids)
    transfers = _rows(
        ClosingTransfer.objects.filter(sub_session_id__in=session_ids), TRANSFER_FIELDS
    )
    transfers_in = _rows(
        ClosingTransfer.objects.filter(main_session_id__in=session_ids), TRANSFER_FIELDS
    )
    seen: set[int] = set()
    for row in [*transfers, *transfers_in]:
        if row[0] in seen:
            continue
        seen.add(row[0])
        for session_id in (row[1], row[2]):
            if session_id in wanted:
                result[session_id]["transfers"].append(row)
    return result


# --- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """The first record of a chain whose stored number or hash does not match."""

    kind: str  # "close" or "correction"
    record_id: int
    register_id: int
    number: int | None
    reason: str


@dataclass
class Verified:
    closes: int = 0
    corrections: int = 0
    broken: Broken | None = None


CHUNK = 2000


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def verify(register_ids: Iterable[int] | None = None, *, models: tuple | None = None) -> Verified:
    """Recompute every chain (of the given registers); stop at the first mismatch."""
    TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction = (
        models or _models()
    )
    result = Verified()
    sessions = TrackingSession.objects.filter(status="closed")
    corrections = Correction.objects.all()
    if register_ids is not None:
        register_ids = list(register_ids)
        sessions = sessions.filter(register_id__in=register_ids)
        corrections = corrections.filter(register_id__in=register_ids)

    # Closes: per register in closing-number order, children fetched a chunk at a time.
    # On PostgreSQL in canonical text already, like the records (_rows).
    rows = list(
        _rows(
            sessions.order_by("register_id", "closing_number", "id"),
            (*SESSION_FIELDS, "closing_hash"),
        )
    )
    previous: dict[int, tuple[int, str]] = {}
    register_at = SESSION_FIELDS.index("register_id")
    number_at = SESSION_FIELDS.index("closing_number")
    for chunk in _chunks(rows, CHUNK):
        children = _children(
            [row[0] for row in chunk], Transaction, Adjustment, CountLine, ClosingTransfer
        )
        for row in chunk:
            register_id, number, stored = row[register_at], row[number_at], row[-1]
            last_number, last_hash = previous.get(register_id, (0, ""))
            broken = None
            if number != last_number + 1:
                broken = f"closing number {number} follows {last_number}"
            elif (
                close_hash(session=row[:-1], previous_hash=last_hash, **children[row[0]]) != stored
            ):
                broken = "closing hash does not match its records"
            if broken:
                result.broken = Broken("close", row[0], register_id, number, broken)
                return result
            previous[register_id] = (number, stored)
            result.closes += 1

    previous = {}
    for row in corrections.order_by("register_id", "correction_number", "id").values_list(
        "id", *CORRECTION_FIELDS, "correction_hash"
    ):
        register_id, number, stored = row[2], row[3], row[-1]
        last_number, last_hash = previous.get(register_id, (0, ""))
        broken = None
        if number != last_number + 1:
            broken = f"correction number {number} follows {last_number}"
        elif correction_hash(correction=row[1:-1], previous_hash=last_hash) != stored:
            broken = "correction hash does not match its record"
        if broken:
            result.broken = Broken("correction", row[0], register_id, number, broken)
            return result
        previous[register_id] = (number, stored)
        result.corrections += 1
    return result


# --- numbering what was closed before the chain existed (migration 0006) --------------------


def seal_existing(models: tuple) -> None:
    """Number and hash every closed session and correction in order, per register."""
    TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction = models
    sessions = list(
        TrackingSession.objects.filter(status="closed")
        .order_by("register_id", "closed_at", "id")
        .values_list("id", "register_id")
    )
    previous: dict[int, tuple[int, str]] = defaultdict(lambda: (0, ""))
    for chunk in _chunks(sessions, CHUNK):
        ids = [pk for pk, _register in chunk]
        children = _children(ids, Transaction, Adjustment, CountLine, ClosingTransfer)
        by_id = {obj.pk: obj for obj in TrackingSession.objects.filter(pk__in=ids)}
        for pk, register_id in chunk:
            session = by_id[pk]
            number, last_hash = previous[register_id]
            session.closing_number = number + 1
            session.closing_hash = close_hash(
                session=[getattr(session, field) for field in SESSION_FIELDS],
                previous_hash=last_hash,
                **children[pk],
            )
            previous[register_id] = (session.closing_number, session.closing_hash)
        TrackingSession.objects.bulk_update(
            by_id.values(), ["closing_number", "closing_hash"], batch_size=500
        )

    previous = defaultdict(lambda: (0, ""))
    changed = []
    for correction in Correction.objects.order_by("register_id", "created_at", "id"):
        number, last_hash = previous[correction.register_id]
        correction.correction_number = number + 1
        correction.correction_hash = correction_hash(
            correction=[getattr(correction, field) for field in CORRECTION_FIELDS],
            previous_hash=last_hash,
        )
        previous[correction.register_id] = (
            correction.correction_number,
            correction.correction_hash,
        )
        changed.append(correction)
    Correction.objects.bulk_update(
        changed, ["correction_number", "correction_hash"], batch_size=500
    )


def _set_up_django(database: str) -> None:
    import django

    django.setup()
    # The parent's database, which may not be the settings' (a test database).
    connections.databases["default"]["NAME"] = database


def _verify_part(register_ids: list[int]) -> Verified:
    """One worker process's share (verify_in_parallel): its own database connection."""
    try:
        return verify(register_ids)
    finally:
        connections.close_all()


PARALLEL_FROM = 10_000  # closes


def _closes(register_ids: list[int]) -> int:
    from sessions_app.models import TrackingSession

    return TrackingSession.objects.filter(register_id__in=register_ids, status="closed").count()


def verify_in_parallel(register_ids: Iterable[int] | None = None, *, jobs: int = 0) -> Verified:
    """verify(), the registers shared out over `jobs` processes (default: one per core).

    Each register's chain is independent of the others', so the work splits by register;
    on 2 cores this roughly halves a year's verification. The first broken record reported
    is the one of the lowest register, as verify() would report it.
    """
    from django.db import connection

    from cashdrawer.models import Register

    automatic = not jobs  # the number of processes is ours to choose
    jobs = jobs or os.cpu_count() or 1
    if register_ids is None:
        register_ids = Register.objects.order_by("pk").values_list("pk", flat=True)
    ordered = sorted(register_ids)
    # Other processes cannot see what an open transaction (a test's) has written; and
    # starting them (about a second) is worth it only for a long history.
    if (
        jobs < 2
        or len(ordered) < 2
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
        or (automatic and _closes(ordered) < PARALLEL_FROM)
    ):
        return verify(ordered)
    # Alternate the registers so that each process gets a similar share of the closes.
    shares = [ordered[start::jobs] for start in range(jobs)]
    # Fresh processes (spawned, not forked: no inherited connection or thread), each with
    # Django set up from the same settings.
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=get_context("spawn"),
        initializer=_set_up_django,
        initargs=(connection.settings_dict["NAME"],),
    ) as pool:
        parts = list(pool.map(_verify_part, shares))
    result = Verified(
        closes=sum(part.closes for part in parts),
        corrections=sum(part.corrections for part in parts),
    )
    broken = [part.broken for part in parts if part.broken is not None]
    if broken:
        result.broken = min(broken, key=lambda b: (b.kind != "close", b.register_id))
    return result
