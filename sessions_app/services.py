"""Every rule of DOMAIN.md that changes state. Browser views, the API, the admin and
management commands call these functions; none of them repeats a rule.

Locking: every operation runs in one database transaction and takes row locks in one
fixed order — the register row, then its session row, then (for a sub-register) the
main register's session row — so two operations can wait for each other but never
deadlock. PostgreSQL's foreign-key check on an INSERT takes only a KEY SHARE lock,
which does not conflict with a plain UPDATE of the session; only the explicit
select_for_update() makes a sale and a close of the same session wait for each other,
so that a sale can never slip into a session that is being closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connections, router, transaction
from django.db.models import F
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext as _

from alerts.services import raise_close_alerts
from cashdrawer import rows
from cashdrawer.actors import device_name, device_of, is_device, person_of, responsible_user
from cashdrawer.bounds import (
    CASH,
    BoundError,
    canonical_method,
    check_occurred_at,
    check_storable_text,
    unknown_method_message,
)
from cashdrawer.models import Denomination, Location, Membership, PaymentMethod, Register
from cashdrawer.money import (
    ZERO,
    AmountError,
    format_amount,
    parse_amount,
    within_figure_limit,
)
from cashdrawer.selectors import role_at
from cashdrawer.services import write_audit
from sessions_app.exceptions import (
    CashTrackingOff,
    DiscrepancyAlreadyExplained,
    DiscrepancyNeedsConfirmation,
    DiscrepancyNoteNotNeeded,
    InsufficientCash,
    InvalidInput,
    LimitExceeded,
    MainSessionNotOpen,
    SessionAlreadyOpen,
    SessionClosed,
    SessionNotClosed,
    SubSessionsOpen,
)
from sessions_app.journal import seal_close, seal_correction
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    DiscrepancyNote,
    TrackingSession,
    Transaction,
)
from sessions_app.selectors import is_blind, passes_threshold

# A count line is {"value": "50.00", "quantity": 3} or ("50.00", 3).
CountInput = Iterable[Mapping[str, Any] | tuple[Any, Any]]

MAX_QUANTITY = 1_000_000
PAYMENT_METHOD_MAX = 40
EXTERNAL_ID_MAX = 100
# The session's counters of cash sales and refunds are PostgreSQL integers.
MAX_COUNT = 2**31 - 1


def _audit(*, by: Any, action: str, obj: Any, data: dict[str, Any]) -> None:
    """An audit entry naming the person responsible: the user, or for a device the manager
    who issued its token, with the device beside them."""
    if is_device(by):
        data = {**data, "device": {"id": by.pk, "name": device_name(by)}}
    write_audit(user=responsible_user(by), action=action, obj=obj, data=data)


@dataclass(frozen=True)
class RecordedTransaction:
    transaction: Transaction
    created: bool  # False when the external_id was already known: nothing was changed


# --- input checks (shape only; no other records involved) ---------------------------


def _amount(
    value: Any,
    *,
    field: str,
    location: Location,
    allow_negative: bool = False,
    ceiling: bool = True,
) -> Decimal:
    """An amount of the location's currency; one entered by a person or a terminal is at
    most the location's ceiling. `ceiling=False` for a count of the whole drawer, which
    holds many entries: it is bounded by what a session's figures hold."""
    try:
        return parse_amount(
            value,
            currency=location.currency,
            allow_negative=allow_negative,
            ceiling=location.max_amount if ceiling else None,
        )
    except AmountError as error:
        raise InvalidInput(field, str(error)) from None


def _aware(value: dt.datetime | None, *, field: str) -> dt.datetime | None:
    """A given time must carry its offset. None stays None: the service then takes the
    time under its lock, so "before" and "after" a close are strictly ordered."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidInput(field, _("Enter a date and time."))
    if timezone.is_naive(value):
        raise InvalidInput(field, _("Give the time with its UTC offset."))
    return value


def _text(value: Any, *, field: str, max_length: int, required: bool) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidInput(field, _("This field is required."))
    if len(text) > max_length:
        raise InvalidInput(field, _("At most %(max)d characters, please.") % {"max": max_length})
    try:
        check_storable_text(text)
    except BoundError as error:
        raise InvalidInput(field, str(error)) from None
    return text


def _payment_method(value: Any, *, location: Location) -> str:
    """The location's name for the method given: compared in canonical form (NFKC,
    without invisible characters, case folded), so "CASH" and "ca\u200bsh" are cash."""
    text = _text(value, field="payment_method", max_length=PAYMENT_METHOD_MAX, required=True)
    name = canonical_method(text)
    known = list(PaymentMethod.objects.filter(location=location).values_list("name", flat=True))
    if name not in known:
        raise InvalidInput("payment_method", unknown_method_message(text, known))
    return name


@dataclass(frozen=True)
class ParsedCount:
    lines: list[tuple[Decimal, int]]  # (face value, quantity), quantities > 0 only

    @property
    def total(self) -> Decimal:
        return sum((value * quantity for value, quantity in self.lines), ZERO)


def parse_count(counts: CountInput, *, location: Location, field: str = "counts") -> ParsedCount:
    """Check a denomination count against the currency's denominations."""
    currency = location.currency
    if isinstance(counts, (str, bytes)) or not isinstance(counts, Iterable):
        raise InvalidInput(field, _("Give a list of denominations with their quantities."))
    if isinstance(counts, Mapping):
        counts = list(counts.items())
    known = set(Denomination.objects.filter(currency=currency).values_list("value", flat=True))
    seen: set[Decimal] = set()
    lines: list[tuple[Decimal, int]] = []
    for line in counts:
        if isinstance(line, Mapping):
            raw_value, quantity = line.get("value"), line.get("quantity")
        elif isinstance(line, (tuple, list)) and len(line) == 2:
            raw_value, quantity = line
        else:
            raise InvalidInput(field, _("Each line needs a value and a quantity."))
        value = _amount(raw_value, field=field, location=location, ceiling=False)
        if value not in known:
            raise InvalidInput(
                field,
                _("%(value)s is not a %(currency)s denomination.")
                % {"value": format_amount(value, currency), "currency": currency},
            )
        if value in seen:
            raise InvalidInput(
                field,
                _("%(value)s is counted twice.") % {"value": format_amount(value, currency)},
            )
        seen.add(value)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput(field, _("A quantity is a whole number."))
        if quantity < 0 or quantity > MAX_QUANTITY:
            raise InvalidInput(
                field, _("A quantity is between 0 and %(max)d.") % {"max": MAX_QUANTITY}
            )
        if quantity:
            lines.append((value, quantity))
    lines.sort(reverse=True)
    return ParsedCount(lines=lines)


def _store_count(session: TrackingSession, stage: str, count: ParsedCount) -> None:
    CountLine.objects.bulk_create(
        CountLine(session=session, stage=stage, value=value, quantity=quantity)
        for value, quantity in count.lines
    )


# --- reads under lock ------------------------------------------------------------------


# The register and the open session are locked on every sale: hand-written statements
# (cashdrawer/rows.py), as the ORM took longer to build them than PostgreSQL to run them.
_REGISTER_SQL = (
    f"SELECT {', '.join([*rows.columns(Register, 'r'), *rows.columns(Location, 'l')])}"
    f' FROM {rows.table(Register)} "r"'
    f' INNER JOIN {rows.table(Location)} "l" ON "l"."id" = "r"."location_id"'
)
_METHOD_KNOWN = (
    f'EXISTS(SELECT 1 FROM {rows.table(PaymentMethod)} "p"'
    ' WHERE "p"."location_id" = "r"."location_id" AND "p"."name" = %s)'
)
_OPEN_SESSION_SQL = (
    f"SELECT {', '.join(rows.columns(TrackingSession, 's'))}"
    f' FROM {rows.table(TrackingSession)} "s"'
    ' WHERE "s"."register_id" = %s AND "s"."status" = %s'
    ' ORDER BY "s"."opened_at" DESC, "s"."id" DESC LIMIT 1'
)


def _for_update(connection: Any, of: str | None = None) -> str:
    """The locking clause where the database has one (SQLite runs one writer at a time)."""
    if not connection.features.has_select_for_update:
        return ""
    if of and connection.features.has_select_for_update_of:
        return f' FOR UPDATE OF "{of}"'
    return " FOR UPDATE"


def _lock_register(register: Register | int, *, payment_method: str | None = None) -> Register:
    """The register, locked, with its location. Given a payment method (canonical form),
    it also says whether the location takes it (`method_known`), in the same query."""
    using = router.db_for_write(Register)
    sql, params = _register_statement(register, payment_method, connections[using])
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return _locked_register(cursor.fetchone(), using, payment_method)


def _lock_register_and_open_session(
    register: Register, *, payment_method: str
) -> tuple[Register, TrackingSession | None]:
    """_lock_register, then _lock_open_session: a sale's two locks, in this order, sent in
    one message where the database takes two statements in one (PostgreSQL with psycopg
    3's client-side binding): one round trip fewer on every sale."""
    using = router.db_for_write(Register)
    connection = connections[using]
    if not rows.one_round_trip(connection):
        locked = _lock_register(register, payment_method=payment_method)
        return locked, _lock_open_session(locked.pk)
    sql, params = _register_statement(register, payment_method, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{sql}; {_OPEN_SESSION_SQL}{_for_update(connection)}",
            [*params, register.pk, TrackingSession.Status.OPEN.value],
        )
        locked = _locked_register(cursor.fetchone(), using, payment_method)
        cursor.nextset()
        row = cursor.fetchone()
    return locked, rows.instance(TrackingSession, using, row) if row is not None else None


def _register_statement(
    register: Register | int, payment_method: str | None, connection: Any
) -> tuple[str, list[Any]]:
    register_id = register.pk if isinstance(register, Register) else register
    sql, params = _REGISTER_SQL, [register_id]
    if payment_method is not None:
        sql = sql.replace(" FROM ", f", {_METHOD_KNOWN} FROM ", 1)
        params = [payment_method, register_id]
    # OF "r": lock the register row only. Locking the joined location too made every sale
    # of a store wait for every other register of that store, and the lock order above was
    # not the real one.
    return f'{sql} WHERE "r"."id" = %s{_for_update(connection, of="r")}', params


def _locked_register(row: Any, using: str, payment_method: str | None) -> Register:
    if row is None:
        raise Register.DoesNotExist("Register matching query does not exist.")
    locked = rows.instance(Register, using, row)
    at = rows.width(Register)
    rows.cache_related(locked, "location", rows.instance(Location, using, row, at))
    if payment_method is not None:
        locked.method_known = bool(row[at + rows.width(Location)])
    return locked


def _lock_open_session(register_id: int) -> TrackingSession | None:
    using = router.db_for_write(TrackingSession)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            _OPEN_SESSION_SQL + _for_update(connection),
            [register_id, TrackingSession.Status.OPEN.value],
        )
        row = cursor.fetchone()
    return rows.instance(TrackingSession, using, row) if row is not None else None


@dataclass(frozen=True)
class LastClose:
    closed_at: dt.datetime
    retained_float: Decimal


def _last_close(register: Register) -> LastClose | None:
    """When the register's last session closed and what it left in the drawer."""
    row = (
        TrackingSession.objects.filter(register=register, status=TrackingSession.Status.CLOSED)
        .order_by("-closed_at", "-id")
        .values_list("closed_at", "retained_float")
        .first()
    )
    return LastClose(*row) if row else None


def previous_closing_float(register: Register) -> Decimal | None:
    """The retained float of the register's last closed session; None before its first."""
    last = _last_close(register)
    return last.retained_float if last else None


def _plus(column: str, amount: Decimal) -> Round:
    """column + amount, kept at the stored two decimals (SQLite adds binary floats)."""
    return Round(F(column) + amount, 2)


def _lock_main_session_for(register: Register) -> TrackingSession:
    """For a sub-register: the main register's open session, locked (rule 8)."""
    main_session = _lock_open_session(register.main_register_id)
    if main_session is None:
        raise MainSessionNotOpen(
            _("Open the main register's session first: %(main)s has no open session.")
            % {"main": register.main_register.name}
        )
    return main_session


def _create_session(
    *,
    register: Register,
    last_close: LastClose | None,
    opening_float: Decimal,
    opened_at: dt.datetime,
    by: Any,
    automatically: bool,
    note: str = "",
) -> TrackingSession:
    main_session = _lock_main_session_for(register) if register.is_sub else None
    previous = last_close.retained_float if last_close else None
    # Rule 3: a register's first session has nothing to compare with: 0.00.
    start_discrepancy = ZERO if previous is None else opening_float - previous
    return TrackingSession.objects.create(
        register=register,
        location_id=register.location_id,
        main_session=main_session,
        blind_close=register.blind_close,
        opened_at=opened_at,
        opened_by=person_of(by),
        opened_by_device=device_of(by),
        opened_automatically=automatically,
        opening_note=note,
        opening_float=opening_float,
        previous_closing_float=previous,
        start_discrepancy=start_discrepancy,
        total_discrepancy=start_discrepancy,
    )


# --- rule 1: opening by hand -----------------------------------------------------------


def open_session(
    *,
    register: Register,
    opening_float: Any = None,
    opening_counts: CountInput | None = None,
    note: str = "",
    by: Any,
    at: dt.datetime | None = None,
) -> TrackingSession:
    """Open a session with a float given as a total or as a denomination count."""
    location = register.location
    note = _text(note, field="note", max_length=2000, required=False)
    opened_at = _aware(at, field="opened_at")
    count = None
    if opening_counts is not None and opening_float is not None:
        raise InvalidInput(
            "opening_float", _("Give the opening float as a total or as a count, not both.")
        )
    if opening_counts is not None:
        count = parse_count(opening_counts, location=location, field="opening_counts")
        # Counted or typed, the opening float is one amount entered: the same ceiling.
        amount = _amount(count.total, field="opening_counts", location=location)
    elif opening_float is not None:
        amount = _amount(opening_float, field="opening_float", location=location)
    else:
        raise InvalidInput("opening_float", _("Enter the opening float or count it."))

    with transaction.atomic():
        register = _lock_register(register)
        if not register.cash_tracking:
            raise CashTrackingOff()
        if _lock_open_session(register.pk) is not None:
            raise SessionAlreadyOpen(
                _("%(register)s already has an open session.") % {"register": register.name}
            )
        opened_at = opened_at or timezone.now()
        last_close = _last_close(register)
        if last_close is not None and opened_at < last_close.closed_at:
            # Sessions of one register follow each other; they never overlap.
            raise InvalidInput(
                "opened_at", _("A session cannot open before the previous one closed.")
            )
        session = _create_session(
            register=register,
            last_close=last_close,
            opening_float=amount,
            opened_at=opened_at,
            by=by,
            automatically=False,
            note=note,
        )
        if count is not None:
            _store_count(session, CountLine.Stage.OPENING, count)
        _audit(
            by=by,
            action="session.open",
            obj=session,
            data={"register": register.pk, "opening_float": str(amount)},
        )
    return session


# --- rule 2, 4 and the late rule: transactions -----------------------------------------


def record_transaction(
    *,
    register: Register,
    kind: str,
    payment_method: str,
    amount: Any,
    occurred_at: dt.datetime | None = None,
    external_id: str | None = None,
    by: Any = None,
    received_at: dt.datetime | None = None,
    savepoint: bool = True,
) -> RecordedTransaction:
    """Record a sale or refund; open a session automatically when none is open.

    A repeat of an external_id already recorded on the register returns the first
    transaction and changes nothing. A transaction that occurred before the end of an
    already closed session is kept on the current session, marked late.
    """
    location = register.location
    if kind not in Transaction.Kind.values:
        raise InvalidInput("kind", _("Kind is sale or refund."))
    method_text = _text(
        payment_method, field="payment_method", max_length=PAYMENT_METHOD_MAX, required=True
    )
    method = canonical_method(method_text)
    value = _amount(amount, field="amount", location=location)
    external_id = _text(
        external_id, field="external_id", max_length=EXTERNAL_ID_MAX, required=False
    )
    given_received_at = _aware(received_at, field="received_at")
    given_occurred_at = _aware(occurred_at, field="occurred_at")

    # savepoint=False (the API's sale, inside the transaction that also holds the
    # Idempotency-Key's record and rolls back whole on any error): a SAVEPOINT and its
    # RELEASE are two round trips on every sale. A caller that catches an error and goes
    # on in its own transaction keeps the default.
    with transaction.atomic(savepoint=savepoint):
        # The register lock serialises everything posted to this register: two repeats of
        # one external_id, and two first sales that would each open a session. The same
        # query says whether the location takes the payment method. The open session is
        # locked right after it (in the same round trip), as a close locks it.
        register, open_session = _lock_register_and_open_session(register, payment_method=method)
        if not register.method_known:
            # Refused, naming the methods the location takes (unless one was added just now).
            method = _payment_method(method_text, location=location)
        received_at = given_received_at or timezone.now()
        occurred_at = given_occurred_at or received_at
        if external_id:
            existing = Transaction.objects.filter(
                register=register, external_id=external_id
            ).first()
            if existing is not None:
                return RecordedTransaction(transaction=existing, created=False)
        # After the repeat check: a repeat of a recorded sale answers it, however late.
        try:
            check_occurred_at(occurred_at, received_at=received_at)
        except BoundError as error:
            raise InvalidInput("occurred_at", str(error)) from None

        session = None
        late = False
        last_close = None
        if register.cash_tracking:
            session = open_session
            # Sessions of a register follow each other without overlapping, so what occurred
            # after the open session started cannot lie in a closed one: no need to look.
            if session is None or occurred_at < session.opened_at:
                last_close = _last_close(register)
                late = last_close is not None and occurred_at < last_close.closed_at
            if session is None:
                # Rule 2: the session starts with the first sale, unless that sale belongs
                # to an already closed session (then it is late and the session opens now).
                opened_at = received_at if late else min(occurred_at, received_at)
                session = _create_session(
                    register=register,
                    last_close=last_close,
                    opening_float=last_close.retained_float if last_close else ZERO,
                    opened_at=opened_at,
                    by=by,
                    automatically=True,
                )
                _audit(
                    by=by,
                    action="session.open_automatically",
                    obj=session,
                    data={"register": register.pk},
                )

        # rows.insert: the INSERT that create() sends, written once (cashdrawer/rows.py).
        created = Transaction(
            register=register,
            session=session,
            kind=kind,
            payment_method=method,
            amount=value,
            occurred_at=occurred_at,
            received_at=received_at,
            external_id=external_id or None,
            late=late,
            recorded_by=person_of(by),
            recorded_by_device=device_of(by),
        )
        # The running totals' UPDATE goes with the INSERT (one round trip, rows.insert).
        totals = (
            _totals_update(session, kind=kind, is_cash=method == CASH, amount=value)
            if session is not None
            else None
        )
        rows.insert(created, before=totals)
        _audit(
            by=by,
            action=f"transaction.{kind}",
            obj=created,
            data={"amount": str(value), "payment_method": method, "late": late},
        )
    return RecordedTransaction(transaction=created, created=True)


def _check_limits(session: TrackingSession, **added: Decimal) -> None:
    """Refuse (409 limit_exceeded) when adding these amounts to the running totals would
    take a session's figure past what its column holds. `session` is the row read under
    its lock, so its totals are the current ones."""
    after = {
        name: getattr(session, name) + added.get(name, ZERO)
        for name in (
            "opening_float",
            "cash_sales",
            "cash_refunds",
            "total_sales",
            "total_refunds",
            "adjustments_in",
            "adjustments_out",
            "sub_register_cash",
        )
    }
    expected = (
        after["opening_float"]
        + after["cash_sales"]
        - after["cash_refunds"]
        + after["adjustments_in"]
        - after["adjustments_out"]
        + after["sub_register_cash"]
    )
    if not within_figure_limit(expected, *after.values()):
        raise LimitExceeded()


def _totals_update(
    session: TrackingSession, *, kind: str, is_cash: bool, amount: Decimal
) -> tuple[str, list[Any]]:
    """The UPDATE of the running totals in the database (never read-modify-write in
    Python), once the limits are checked: (sql, params)."""
    total, cash, counter = (
        ("total_sales", "cash_sales", "cash_sales_count")
        if kind == Transaction.Kind.SALE
        else ("total_refunds", "cash_refunds", "cash_refunds_count")
    )
    added = {total: amount}
    if is_cash:
        added[cash] = amount
        if getattr(session, counter) >= MAX_COUNT:
            raise LimitExceeded()
    _check_limits(session, **added)
    # Hand-written like the locks above: the same UPDATE the ORM would send with _plus()
    # and F(), without building it on every sale.
    changes, params = [f'"{total}" = ROUND("{total}" + %s, 2)'], [amount]
    if is_cash:
        changes += [f'"{cash}" = ROUND("{cash}" + %s, 2)', f'"{counter}" = "{counter}" + 1']
        params.append(amount)
    return (
        f'UPDATE {rows.table(TrackingSession)} SET {", ".join(changes)} WHERE "id" = %s',
        [*params, session.pk],
    )


# --- adjustments -----------------------------------------------------------------------


def adjust_float(
    *,
    session: TrackingSession,
    direction: str,
    amount: Any,
    reason: str,
    by: Any,
    at: dt.datetime | None = None,
    sees_expected: bool = True,
) -> Adjustment:
    """Put cash into (`in`) or take it out of (`out`) the drawer of an open session.

    A cash out larger than the drawer's expected cash is refused (409 insufficient_cash),
    except on a blind session for whoever may not see its expected cash
    (`sees_expected=False`: a cashier or a terminal): a refusal there would let the person
    who counts find the expected cash by trying amounts. Their cash out is booked; if the
    drawer did not hold it, the expected cash goes below zero and the close shows the gap
    as a surplus against it: the cash out was booked for more than was there.
    """
    location = session.location
    if direction not in Adjustment.Direction.values:
        raise InvalidInput("direction", _("Direction is in or out."))
    value = _amount(amount, field="amount", location=location)
    if value == 0:
        raise InvalidInput("amount", _("An adjustment moves more than 0."))
    reason = _text(reason, field="reason", max_length=200, required=True)
    created_at = _aware(at, field="created_at")

    with transaction.atomic():
        _lock_register(session.register_id)
        locked = TrackingSession.objects.select_for_update().get(pk=session.pk)
        if not locked.is_open:
            raise SessionClosed()
        created_at = created_at or timezone.now()
        if created_at < locked.opened_at:
            raise InvalidInput(
                "created_at", _("The adjustment cannot be before the session opened.")
            )
        column = "adjustments_in" if direction == Adjustment.Direction.IN else "adjustments_out"
        _check_limits(locked, **{column: value})
        if column == "adjustments_out":
            _check_drawer_holds(locked, value, sees_expected=sees_expected)
        adjustment = Adjustment.objects.create(
            session=locked,
            direction=direction,
            amount=value,
            reason=reason,
            created_at=created_at,
            created_by=person_of(by),
            created_by_device=device_of(by),
        )
        TrackingSession.objects.filter(pk=locked.pk).update(**{column: _plus(column, value)})
        _audit(
            by=by,
            action=f"adjustment.{direction}",
            obj=adjustment,
            data={"session": locked.pk, "amount": str(value), "reason": reason},
        )
    return adjustment


def _check_drawer_holds(session: TrackingSession, amount: Decimal, *, sees_expected: bool) -> None:
    drawer = session.current_expected_cash
    if amount <= drawer or (not sees_expected and is_blind(session)):
        return
    currency = session.location.currency
    raise InsufficientCash(
        _("The drawer holds %(drawer)s in cash; %(amount)s cannot be taken out.")
        % {
            "drawer": format_amount(max(drawer, ZERO), currency),
            "amount": format_amount(amount, currency),
        }
    )


# --- rules 6, 9, 10, 11: closing -------------------------------------------------------


def close_session(
    *,
    session: TrackingSession,
    counted: Any = None,
    counts: CountInput | None = None,
    retained_float: Any = None,
    note: str = "",
    confirm_discrepancy: bool = False,
    sees_expected: bool = True,
    by: Any,
    at: dt.datetime | None = None,
) -> TrackingSession:
    """Close an open session, with an optional count, and store its final figures.

    A count whose end or total discrepancy is larger than the location's threshold is
    refused (409 discrepancy_needs_confirmation, with the figures) unless the closer
    confirms it (`confirm_discrepancy=True`) with a note, which is the closing note. Not
    on a blind session for whoever may not see its expected cash (`sees_expected=False`:
    a cashier or a terminal): the refusal would tell them the difference before the count
    is final, so they could make it match. Their close is booked, and the explanation is
    asked for afterwards (explain_discrepancy).
    """
    register = session.register
    location = session.location
    currency = location.currency
    note = _text(note, field="note", max_length=2000, required=False)
    if confirm_discrepancy and not note:
        raise InvalidInput("note", _("Say in a note what happened to confirm the discrepancy."))
    closed_at = _aware(at, field="closed_at")

    count = None
    counted_cash = None
    if counted is not None and counts is not None:
        raise InvalidInput(
            "counted_cash", _("Give the counted cash as a total or as a count, not both.")
        )
    if register.is_sub:
        if counted is not None or counts is not None:
            raise InvalidInput(
                "counts",
                _("A sub-register is not counted: its cash is counted at %(main)s.")
                % {"main": register.main_register.name},
            )
        if (
            retained_float is not None
            and _amount(retained_float, field="retained_float", location=location) != 0
        ):
            raise InvalidInput(
                "retained_float",
                _("A sub-register keeps no float: all its cash goes to the main register."),
            )
    elif counts is not None:
        count = parse_count(counts, location=location, field="counts")
        # A count of the whole drawer is not one entry: no ceiling, but a figure's bound.
        counted_cash = _amount(count.total, field="counts", location=location, ceiling=False)
    elif counted is not None:
        if register.count_method == Register.CountMethod.DENOMINATIONS:
            raise InvalidInput(
                "counted_cash",
                _("This register counts by denominations: give a count per denomination."),
            )
        counted_cash = _amount(counted, field="counted_cash", location=location, ceiling=False)
    retained = (
        None
        if retained_float is None or register.is_sub
        else _amount(retained_float, field="retained_float", location=location)
    )

    with transaction.atomic():
        locked_register = _lock_register(register.pk)
        locked = TrackingSession.objects.select_for_update().get(pk=session.pk)
        if not locked.is_open:
            raise SessionClosed()
        # The register and its location just read under the lock: the alerts and the
        # caller's message read them from the closed session without a query each.
        locked.register = locked_register
        if locked.location_id == locked_register.location_id:
            locked.location = locked_register.location
        closed_at = closed_at or timezone.now()
        if closed_at < locked.opened_at:
            raise InvalidInput("closed_at", _("A session cannot close before it opened."))
        # Only a close placed in the past can precede cash the session already holds; the
        # default time is taken under the lock, after everything recorded so far.
        if at is not None and (
            locked.transactions.filter(received_at__gt=closed_at).exists()
            or locked.adjustments.filter(created_at__gt=closed_at).exists()
            or locked.transfers_in.filter(created_at__gt=closed_at).exists()
        ):
            raise InvalidInput(
                "closed_at", _("A session cannot close before cash it already holds arrived.")
            )

        if register.is_sub:
            _close_sub_session(locked, closed_at=closed_at, by=by)
        else:
            if register.is_main:
                # Sub sessions open and close only while holding the main session's lock,
                # which we hold now, so this answer cannot change before we commit.
                still_open = list(
                    locked.sub_sessions.filter(status=TrackingSession.Status.OPEN)
                    .select_related("register")
                    .order_by("register__name")
                )
                if still_open:
                    names = ", ".join(s.register.name for s in still_open)
                    raise SubSessionsOpen(
                        _("Close the sub-registers first: %(names)s still open.") % {"names": names}
                    )
            expected = locked.current_expected_cash
            ceiling = max(counted_cash if counted_cash is not None else expected, ZERO)
            if retained is None:
                retained = min(register.default_float or ZERO, ceiling)
            elif retained > ceiling:
                # Not counted, the ceiling is the expected cash: on a blind-close register
                # a cashier must not learn it from this message, so it names no amount.
                message = (
                    _("The retained float cannot be more than the counted cash (%(amount)s).")
                    % {"amount": format_amount(ceiling, currency)}
                    if counted_cash is not None
                    else _("The retained float cannot be more than the cash in the drawer.")
                )
                raise InvalidInput("retained_float", message)
            end_discrepancy = None if counted_cash is None else counted_cash - expected
            locked.expected_cash = expected
            locked.counted_cash = counted_cash
            locked.end_discrepancy = end_discrepancy
            locked.retained_float = retained
            locked.cash_removed = (
                counted_cash if counted_cash is not None else expected
            ) - retained
            locked.transferred_to_main = ZERO
            locked.total_discrepancy = locked.start_discrepancy + (end_discrepancy or ZERO)
            if not within_figure_limit(
                locked.expected_cash,
                locked.counted_cash,
                locked.end_discrepancy,
                locked.cash_removed,
                locked.total_discrepancy,
            ):
                raise LimitExceeded()
            if (
                not confirm_discrepancy
                and passes_threshold(locked, location.discrepancy_threshold)
                and (sees_expected or not is_blind(locked))
            ):
                # Raised before anything is written: the whole close rolls back.
                raise DiscrepancyNeedsConfirmation(
                    expected=locked.expected_cash,
                    counted=locked.counted_cash,
                    end_discrepancy=locked.end_discrepancy,
                    total_discrepancy=locked.total_discrepancy,
                    threshold=location.discrepancy_threshold,
                    currency=currency,
                )
            if count is not None:
                _store_count(locked, CountLine.Stage.CLOSING, count)

        locked.status = TrackingSession.Status.CLOSED
        locked.closed_at = closed_at
        locked.closed_by = person_of(by)
        locked.closed_by_device = device_of(by)
        locked.closing_note = note
        # Last: the closing hash covers every figure and record of the close.
        seal_close(locked)
        locked.save()
        _audit(
            by=by,
            action="session.close",
            obj=locked,
            data={
                "expected_cash": str(locked.expected_cash),
                "counted_cash": None if locked.counted_cash is None else str(locked.counted_cash),
                "retained_float": str(locked.retained_float),
                "closing_number": locked.closing_number,
                "closing_hash": locked.closing_hash,
                "discrepancy_confirmed": confirm_discrepancy and passes_threshold(locked),
            },
        )
        # In the close's transaction; their e-mails go out after it commits.
        raise_close_alerts(locked)
    return locked


def explain_discrepancy(
    *, session: TrackingSession, note: str, by: Any, at: dt.datetime | None = None
) -> DiscrepancyNote:
    """Attach the explanation of a closed session's large discrepancy (one past the
    location's threshold), asked for after a blind count. Once per session, by whoever
    closed it (the same user or device) or by a manager of the location; it never
    changes afterwards. A closed session's row never changes, so it is a record of its own.
    """
    text = _text(note, field="note", max_length=2000, required=True)
    created_at = _aware(at, field="created_at")
    with transaction.atomic():
        # Two notes sent at once wait for each other here; the unique session column
        # would refuse the second anyway, but with an error instead of an answer.
        locked = (
            TrackingSession.objects.select_for_update(of=("self",))
            .select_related("location")
            .get(pk=session.pk)
        )
        if locked.is_open:
            raise SessionNotClosed(_("Only a closed session's discrepancy can be explained."))
        closer = (
            locked.closed_by_device_id == by.pk
            if is_device(by)
            else person_of(by) is not None and locked.closed_by_id == by.pk
        )
        if not closer and (
            is_device(by) or role_at(by, locked.location) != Membership.Role.MANAGER
        ):
            raise PermissionDenied(
                _("Only whoever closed the session, or a manager, explains its discrepancy.")
            )
        if not passes_threshold(locked):
            raise DiscrepancyNoteNotNeeded()
        if DiscrepancyNote.objects.filter(session=locked).exists():
            raise DiscrepancyAlreadyExplained()
        created_at = created_at or timezone.now()
        if created_at < locked.closed_at:
            raise InvalidInput("created_at", _("The note comes after the session closed."))
        explanation = DiscrepancyNote.objects.create(
            session=locked,
            text=text,
            created_at=created_at,
            created_by=person_of(by),
            created_by_device=device_of(by),
        )
        _audit(
            by=by,
            action="session.explain_discrepancy",
            obj=explanation,
            data={"session": locked.pk, "note": text},
        )
    return explanation


def _close_sub_session(session: TrackingSession, *, closed_at: dt.datetime, by: Any) -> None:
    """Rule 9: a sub session counts nothing; all its expected cash goes to the main session."""
    main_session = TrackingSession.objects.select_for_update().get(pk=session.main_session_id)
    if not main_session.is_open:  # cannot happen while rule 10 holds; refuse rather than lose cash
        raise SessionClosed(_("The main register's session is already closed."))
    amount = session.current_expected_cash
    _check_limits(main_session, sub_register_cash=amount)
    ClosingTransfer.objects.create(
        sub_session=session,
        main_session=main_session,
        amount=amount,
        created_at=closed_at,
        created_by=person_of(by),
        created_by_device=device_of(by),
    )
    TrackingSession.objects.filter(pk=main_session.pk).update(
        sub_register_cash=_plus("sub_register_cash", amount)
    )
    session.expected_cash = amount
    session.counted_cash = None
    session.end_discrepancy = None
    session.retained_float = ZERO
    # Its cash stays in the store: it is counted and removed at the main register.
    session.cash_removed = ZERO
    session.transferred_to_main = amount
    session.total_discrepancy = session.start_discrepancy


# --- corrections -----------------------------------------------------------------------


def add_correction(
    *, session: TrackingSession, amount: Any, reason: str, by: Any, at: dt.datetime | None = None
) -> Correction:
    """Record a correction of a closed session's discrepancy; the session stays as it was."""
    value = _amount(amount, field="amount", location=session.location, allow_negative=True)
    if value == 0:
        raise InvalidInput("amount", _("A correction changes the discrepancy by more than 0."))
    reason = _text(reason, field="reason", max_length=500, required=True)
    created_at = _aware(at, field="created_at")
    if is_device(by) or not getattr(by, "pk", None):
        raise InvalidInput("created_by", _("A correction names the staff member who makes it."))
    with transaction.atomic():
        # The register's lock serialises its corrections' numbers, like its closes'.
        _lock_register(session.register_id)
        locked = TrackingSession.objects.select_for_update().get(pk=session.pk)
        if locked.is_open:
            raise SessionNotClosed()
        created_at = created_at or timezone.now()
        if created_at < locked.closed_at:
            raise InvalidInput("created_at", _("A correction comes after the session closed."))
        correction = Correction(
            session=locked,
            register_id=locked.register_id,
            amount=value,
            reason=reason,
            created_at=created_at,
            created_by=by,
        )
        seal_correction(correction)
        correction.save(force_insert=True)
        _audit(
            by=by,
            action="session.correct",
            obj=correction,
            data={"session": locked.pk, "amount": str(value), "reason": reason},
        )
    return correction
