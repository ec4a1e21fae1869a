"""A realistic store chain at scale, loaded into PostgreSQL with COPY (issue 12).

`generate(locations=50, days=365)` builds, per location, a main register with two
sub-registers and a standalone register, a manager and cashiers, and for every day
about `sessions_per_day` closed sessions per register with about `transactions` sales
and refunds each (cash, card, voucher), float adjustments, counts by denomination or by
total, discrepancies (mostly none, some small, a few large, explained), sessions closed
without a count, late sales, corrections, and the shared closing of the subs into the
main register (ClosingTransfer rows). `manage.py generate_chain` is its command line;
the bench calls the function.

Why the rows are made in Python rather than with INSERT … SELECT: every closed session
needs its closing number and a real closing hash over its rows (sessions_app/journal.py),
chained to the register's previous close. Making the rows here, with ids reserved from the
sequences, lets each hash be computed from the very text that is sent to COPY, so nothing
is read back and sealed afterwards (sealing 150,000 closes after the fact meant reading 9
million rows again). The text forms are the journal's canonical ones ("12.30",
"2026-11-02T09:31:39.123456Z"), which PostgreSQL parses as they are.

The rows look exactly like rows the services (sessions_app/services.py) would write:
a close stores the same figures (expected, counted, end/total discrepancy, retained
float, cash removed, transferred to main), a sub session's close books a ClosingTransfer
on its main session, a late sale is kept on the current session and marked late, and a
session's start discrepancy is its opening float minus the previous close's retained
float. Audit entries and alerts, which the services also write, are not generated.

Everything runs in one database transaction: an interrupted run (Ctrl-C, a kill, a lost
connection) leaves nothing behind, and running it again starts afresh. Inside that
transaction the foreign keys and plain indexes of the loaded tables are dropped and made
again after the load (a foreign key is then checked by one join instead of one lookup per
row, an index built by one sort); both come back under the same names and definitions
before the commit, so the schema the migrations made is what stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import queue
import random
import sys
import threading
import time
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from cashdrawer.models import Denomination, Location, Membership, PaymentMethod, Register
from sessions_app.journal import (
    CLOSE_FORMAT,
    SESSION_FIELDS,
    TRANSACTION_FIELDS,
    correction_hash,
)
from sessions_app.models import (
    Adjustment,
    ClosingTransfer,
    Correction,
    CountLine,
    DiscrepancyNote,
    TrackingSession,
    Transaction,
)


class ChainError(Exception):
    """The chain cannot be generated here (not PostgreSQL, or the database is not empty)."""


# --- the shape of a store --------------------------------------------------------------------

# (city, time zone, currency): mostly Dutch stores in EUR, a few abroad.
CITIES = (
    ("Amsterdam", "Europe/Amsterdam", "EUR"),
    ("Rotterdam", "Europe/Amsterdam", "EUR"),
    ("Utrecht", "Europe/Amsterdam", "EUR"),
    ("Den Haag", "Europe/Amsterdam", "EUR"),
    ("Eindhoven", "Europe/Amsterdam", "EUR"),
    ("Groningen", "Europe/Amsterdam", "EUR"),
    ("Antwerpen", "Europe/Brussels", "EUR"),
    ("Köln", "Europe/Berlin", "EUR"),
    ("London", "Europe/London", "GBP"),
    ("Haarlem", "Europe/Amsterdam", "EUR"),
    ("Leiden", "Europe/Amsterdam", "EUR"),
    ("Nijmegen", "Europe/Amsterdam", "EUR"),
    ("Gent", "Europe/Brussels", "EUR"),
    ("Zwolle", "Europe/Amsterdam", "EUR"),
    ("New York", "America/New_York", "USD"),
    ("Maastricht", "Europe/Amsterdam", "EUR"),
)
DISTRICTS = ("Centrum", "Noord", "Zuid", "Oost", "West", "Station", "Markt", "Haven")
FIRST_NAMES = (
    "Anna", "Bram", "Charlotte", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jesse",
    "Julia", "Kees", "Lotte", "Milan", "Noor", "Olivier", "Pien", "Ruben", "Sanne", "Thijs",
    "Uma", "Vince", "Willemijn", "Yara", "Zoë", "Lucas", "Sophie", "Sem", "Fenna", "Mohamed",
)  # fmt: skip
LAST_NAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Yilmaz", "El Amrani",
)  # fmt: skip
CASHIERS_PER_LOCATION = 6
OPENS_AT = dt.time(8, 0)
HOURS_OPEN = 13  # 08:00 to 21:00 local time
MAX_SESSIONS_PER_DAY = 6

ADJUSTMENTS_IN = ("Own money for change", "Change from the safe", "Float topped up")
ADJUSTMENTS_OUT = (
    "Drawer over limit",
    "Cash to the safe",
    "Petty cash: cleaning supplies",
    "Cash taken out temporarily",
)
CONFIRM_NOTES = (
    "Counted twice; the difference stands.",
    "Counted with the manager; a note of 20 may have gone out as change for 10.",
    "Recounted after the rush; reported to the manager.",
)
NOT_COUNTED_NOTES = ("", "", "No time to count: counted tomorrow morning.")
CORRECTION_REASONS = (
    "Envelope with the missing cash found in the safe",
    "Card payment booked as cash by mistake",
    "Refund paid out twice; recovered from the customer",
    "Miscount found on the bank's deposit slip",
)

US = 1_000_000  # microseconds per second
# Coins and notes in cents, for a currency whose denominations were removed (a flushed
# database has none until `migrate` ships them again).
FALLBACK_DENOMINATIONS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]


# --- progress ------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar per stage on stderr: done/total, rows per second, time left.

    Written here rather than taken from tqdm: it is thirty lines, and the project adds no
    dependency for it. `update` is called whether or not anything is shown, so a test can
    interrupt a stage by patching it.
    """

    def __init__(self, stage: str, total: float, *, unit: str, shown: bool, out: TextIO) -> None:
        self.stage, self.total, self.unit, self.shown, self.out = stage, total, unit, shown, out
        self.done = 0.0
        self.rows = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._stale = True

    def update(self, done: float, rows: int = 0) -> None:
        self.done += done
        self.rows += rows
        now = time.monotonic()
        self._stale = True
        if self.shown and (now - self._drawn > 0.25 or self.done >= self.total):
            self._drawn = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._stale = False
        seconds = max(now - self.started, 1e-9)
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        left = seconds * (1 - fraction) / fraction if fraction else 0.0
        bar = "#" * int(fraction * 30)
        rate = f" {self.rows / seconds:,.0f} {self.unit}/s" if self.rows else ""
        self.out.write(
            f"\r{self.stage:<22} [{bar:<30}] {fraction:4.0%}{rate}"
            f" {seconds:5.0f} s, {left:4.0f} s left "
        )
        self.out.flush()

    def close(self) -> float:
        seconds = time.monotonic() - self.started
        if self.shown:
            if self._stale:
                self._draw(time.monotonic())
            self.out.write("\n")
            self.out.flush()
        return seconds


# --- text forms (the journal's canonical ones, which COPY parses too) -----------------------


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


_MINUTE_TEXT: dict[int, str] = {}
_EPOCH = dt.datetime(1970, 1, 1)
MINUTE = 60 * US


def moment(us: int) -> str:
    """Microseconds since the epoch as "2026-11-02T09:31:39.123456Z" (the text up to the
    minute is cached: this runs twenty million times for a year of fifty stores)."""
    minute, rest = divmod(us, MINUTE)
    prefix = _MINUTE_TEXT.get(minute)
    if prefix is None:
        if len(_MINUTE_TEXT) > 100_000:
            _MINUTE_TEXT.clear()
        prefix = (_EPOCH + dt.timedelta(minutes=minute)).isoformat()[:17]
        _MINUTE_TEXT[minute] = prefix
    seconds, micro = divmod(rest, US)
    return f"{prefix}{seconds:02d}.{micro:06d}Z"


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


class Table:
    """Rows waiting to be sent to one table with COPY, as lines of COPY's text format.
    Every text written here is the generator's own (no tab, newline or backslash)."""

    def __init__(self, model: Any, columns: Sequence[str]) -> None:
        self.name = model._meta.db_table
        self.columns = tuple(columns)
        self.lines: list[str] = []
        self.count = 0
        self.ids: Iterator[int] = itertools.count(1)  # from the sequence before the load

    def take_id(self) -> int:
        return next(self.ids)

    def add(self, values: Sequence[Any]) -> None:
        self.lines.append("\t".join([_copy_value(v) for v in values]))

    def take(self) -> tuple[str, bytes, int] | None:
        """The COPY statement and data of the rows waiting, which are then forgotten."""
        if not self.lines:
            return None
        sent = len(self.lines)
        data = ("\n".join(self.lines) + "\n").encode()
        self.lines = []
        self.count += sent
        return f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN", data, sent


class Writer(threading.Thread):
    """Sends the batches to PostgreSQL with COPY while the next day is being made: the
    server parses and stores one day as Python makes the next, so the two cores both
    work. It uses the connection only while the main thread does not (the main thread
    makes rows and touches no database until finish())."""

    def __init__(self, cursor: Any) -> None:
        super().__init__(name="generate_chain COPY", daemon=True)
        self.cursor = cursor
        self.batches: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            if self.error is not None:
                continue  # drain until told to stop
            try:
                for statement, data, _rows in batch:
                    with self.cursor.copy(statement) as copy:
                        copy.write(data)
            except BaseException as error:
                self.error = error

    def send(self, batch: list[tuple[str, bytes, int]]) -> None:
        if self.error is not None:
            raise self.error
        self.batches.put(batch)

    def finish(self) -> None:
        """Wait for what was sent (also when the main thread is interrupted: the
        transaction can roll back only once the connection is free again)."""
        self.batches.put(None)
        self.join()
        if self.error is not None:
            raise self.error


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def closing_hash(
    *,
    session: Sequence[Any],
    transactions: Sequence[str],
    adjustments: Sequence[Sequence[Any]],
    counts: Sequence[Sequence[Any]],
    transfers: Sequence[Sequence[Any]],
    previous_hash: str,
) -> str:
    """journal.close_hash for rows already in canonical form, the transactions already as
    JSON records in id order: the same document, byte for byte (json.dumps with sorted
    keys puts "transactions" between "session" and "transfers"). The tests and
    verify_journal recompute it with the journal's own code."""
    # Count lines by stage, then face value from the highest (journal._count_order).
    counts = sorted(counts, key=lambda row: (row[0], -Decimal(row[1])))
    document = (
        f'{{"adjustments":{_json(adjustments)},"counts":{_json(counts)},'
        f'"format":{_json(CLOSE_FORMAT)},"previous_hash":{_json(previous_hash)},'
        f'"session":{_json(session)},"transactions":[{",".join(transactions)}],'
        f'"transfers":{_json(transfers)}}}'
    )
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


SESSION_COLUMNS = (*SESSION_FIELDS, "status", "closing_hash")
TRANSACTION_COLUMNS = ("register_id", "session_id", *TRANSACTION_FIELDS)
ADJUSTMENT_COLUMNS = (
    "session_id", "id", "direction", "amount", "reason", "created_at", "created_by_id",
    "created_by_device_id",
)  # fmt: skip
COUNT_COLUMNS = ("session_id", "id", "stage", "value", "quantity")
TRANSFER_COLUMNS = (
    "id", "sub_session_id", "main_session_id", "amount", "created_at", "created_by_id",
    "created_by_device_id",
)  # fmt: skip
CORRECTION_COLUMNS = (
    "id", "session_id", "register_id", "correction_number", "amount", "reason", "created_at",
    "created_by_id", "correction_hash",
)  # fmt: skip
NOTE_COLUMNS = ("id", "session_id", "text", "created_at", "created_by_id", "created_by_device_id")


# --- the generator's state -------------------------------------------------------------------


@dataclass
class Till:
    """A register while its history is made: what its last close left and its chains."""

    id: int
    location_id: int
    role: str
    counts_by_denominations: bool
    default_float: int | None  # cents
    blind: bool
    retained: int | None = None  # the last close's retained float; None before the first
    last_closed_at: int | None = None
    closing_number: int = 0
    closing_hash: str = ""
    correction_number: int = 0
    correction_hash: str = ""
    last_correction_at: int = 0
    external: int = 0


@dataclass
class Store:
    location: Location
    tz: zoneinfo.ZoneInfo
    threshold: int  # cents
    denominations: list[int]  # cents, largest first
    manager: int
    cashiers: list[int]
    main: Till
    subs: list[Till]
    standalone: Till


@dataclass
class Totals:
    """A session's running totals, in cents, as the services keep them."""

    cash_sales: int = 0
    cash_sales_count: int = 0
    cash_refunds: int = 0
    cash_refunds_count: int = 0
    total_sales: int = 0
    total_refunds: int = 0
    adjustments_in: int = 0
    adjustments_out: int = 0
    sub_register_cash: int = 0

    def cash(self, opening: int) -> int:
        return (
            opening
            + self.cash_sales
            - self.cash_refunds
            + self.adjustments_in
            - self.adjustments_out
            + self.sub_register_cash
        )


@dataclass
class Opened:
    """A session made but not yet closed: its id, start figures and its rows so far."""

    id: int
    till: Till
    store: Store
    main_id: int | None
    opened_at: int
    opened_by: int
    automatic: bool
    note: str
    opening: int
    previous: int | None
    totals: Totals = field(default_factory=Totals)
    transactions: list[str] = field(default_factory=list)  # their records, as JSON
    lines: list[str] = field(default_factory=list)  # their COPY lines
    adjustments: list[tuple] = field(default_factory=list)
    counts: list[tuple] = field(default_factory=list)
    transfers: list[tuple] = field(default_factory=list)
    last_at: int = 0  # the latest time of anything the session holds


class Generator:
    def __init__(
        self,
        *,
        locations: int,
        days: int,
        sessions_per_day: int,
        transactions: int,
        end_date: dt.date,
        seed: int,
    ) -> None:
        self.locations = locations
        self.days = days
        self.sessions_per_day = sessions_per_day
        self.mean = transactions
        self.end_date = end_date
        self.first_date = end_date - dt.timedelta(days=days - 1)
        self.random = random.Random(seed)
        self.stores: list[Store] = []
        self.sessions = Table(TrackingSession, SESSION_COLUMNS)
        self.transactions = Table(Transaction, TRANSACTION_COLUMNS)
        self.adjustments = Table(Adjustment, ADJUSTMENT_COLUMNS)
        self.counts = Table(CountLine, COUNT_COLUMNS)
        self.transfers = Table(ClosingTransfer, TRANSFER_COLUMNS)
        self.corrections = Table(Correction, CORRECTION_COLUMNS)
        self.notes = Table(DiscrepancyNote, NOTE_COLUMNS)
        self.tables = (
            self.sessions,
            self.transactions,
            self.adjustments,
            self.counts,
            self.transfers,
            self.corrections,
            self.notes,
        )
        # Sale amounts drawn from a fixed pool: most baskets are small, a few large.
        rnd = self.random
        self.sale_pool = [
            max(50, int(math.exp(rnd.gauss(math.log(1800), 0.9)))) for _ in range(4096)
        ]
        self.sale_pool = [min(cents, 60_000) for cents in self.sale_pool]
        self.refund_pool = [max(50, cents // 2) for cents in self.sale_pool[:1024]]
        self.sale_text = [money(cents) for cents in self.sale_pool]
        self.refund_text = [money(cents) for cents in self.refund_pool]

    # -- people and registers (a few hundred rows, through the ORM) --

    def make_stores(self) -> None:
        User = get_user_model()
        taken = set(User.objects.values_list("username", flat=True))
        names = [
            (f"{city} {district}", tz, currency)
            for district in DISTRICTS
            for city, tz, currency in CITIES
        ]
        denominations: dict[str, list[int]] = {}
        for currency, value in Denomination.objects.values_list("currency", "value"):
            denominations.setdefault(currency, []).append(int(value * 100))
        rnd = self.random
        for number in range(self.locations):
            name, tz, currency = names[number % len(names)]
            if number >= len(names):
                name = f"{name} {number // len(names) + 1}"
            location = Location.objects.create(name=name, currency=currency, timezone=tz)
            PaymentMethod.objects.create(location=location, name="voucher")
            people = []
            for role in ["manager"] + ["cashier"] * CASHIERS_PER_LOCATION:
                first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
                base = f"{first}.{last}".lower().replace(" ", "").replace("ë", "e")
                username, n = base, 1
                while username in taken:
                    n += 1
                    username = f"{base}{n}"
                taken.add(username)
                # "!": an unusable password; staff log in once a manager sets one.
                user = User(username=username, first_name=first, last_name=last, password="!")
                people.append((user, role))
            users = User.objects.bulk_create([user for user, _role in people])
            Membership.objects.bulk_create(
                Membership(user=user, location=location, role=role)
                for user, (_u, role) in zip(users, people, strict=True)
            )
            blind = number % 4 == 3
            main = Register.objects.create(
                location=location,
                name="Main till",
                code="main",
                role="main",
                count_method="denominations",
                default_float=150,
            )
            subs = [
                Register.objects.create(
                    location=location, name=f"Sub till {letter}", code=f"sub-{letter.lower()}",
                    role="sub", main_register=main, default_float=None,
                )
                for letter in ("A", "B")
            ]  # fmt: skip
            desk = Register.objects.create(
                location=location,
                name="Service desk",
                code="service-desk",
                role="standalone",
                count_method="denominations" if number % 2 else "total",
                default_float=100,
                blind_close=blind,
            )

            def till(register: Register) -> Till:
                return Till(
                    id=register.pk,
                    location_id=register.location_id,
                    role=register.role,
                    counts_by_denominations=register.count_method == "denominations",
                    default_float=(
                        None
                        if register.default_float is None
                        else int(register.default_float) * 100
                    ),
                    blind=register.blind_close,
                )

            self.stores.append(
                Store(
                    location=location,
                    tz=zoneinfo.ZoneInfo(tz),
                    threshold=int(location.discrepancy_threshold * 100),
                    denominations=sorted(
                        denominations.get(currency) or FALLBACK_DENOMINATIONS, reverse=True
                    ),
                    manager=users[0].pk,
                    cashiers=[user.pk for user in users[1:]],
                    main=till(main),
                    subs=[till(sub) for sub in subs],
                    standalone=till(desk),
                )
            )

    # -- one day of every store --

    def day(self, date: dt.date) -> None:
        rnd = self.random
        span = HOURS_OPEN * 3600 * US // self.sessions_per_day
        for store in self.stores:
            start_of_day = int(dt.datetime.combine(date, OPENS_AT, tzinfo=store.tz).timestamp())
            start_of_day *= US
            for shift in range(self.sessions_per_day):
                start = start_of_day + shift * span + rnd.randrange(0, 10 * 60 * US)
                end = start_of_day + (shift + 1) * span - rnd.randrange(5 * 60 * US, 15 * 60 * US)
                cashier = store.cashiers[(date.toordinal() * 3 + shift * 2) % len(store.cashiers)]
                other = store.cashiers[(date.toordinal() * 3 + shift * 2 + 1) % len(store.cashiers)]
                # The main register, then its subs inside its session, closed before it.
                main = self.open(store, store.main, start, cashier)
                self.fill(main, end - 20 * 60 * US)
                for index, sub in enumerate(store.subs):
                    sub_start = main.opened_at + rnd.randrange(2 * 60 * US, 30 * 60 * US)
                    sub_end = end - rnd.randrange(12 * 60 * US, 20 * 60 * US)
                    turn = date.toordinal() + shift + index + 2
                    who = store.cashiers[turn % len(store.cashiers)]
                    opened = self.open(store, sub, sub_start, who, main=main)
                    self.fill(opened, sub_end)
                    self.close_sub(opened, main, sub_end + rnd.randrange(0, 60 * US), who)
                closer = store.manager if rnd.random() < 0.5 else cashier
                self.close(main, end, closer)
                desk_start = start + rnd.randrange(0, 20 * 60 * US)
                desk = self.open(store, store.standalone, desk_start, other)
                self.fill(desk, end - 60 * US)
                self.close(desk, end + rnd.randrange(0, 5 * 60 * US), other)

    def open(
        self,
        store: Store,
        till: Till,
        at: int,
        by: int,
        *,
        main: Opened | None = None,
    ) -> Opened:
        rnd = self.random
        previous = till.retained
        note = ""
        if till.role == "sub":
            # Opened by its first sale (rule 2) mostly; a sub keeps no float.
            automatic = rnd.random() < 0.85
            opening = 0
        elif previous is None:
            automatic, opening = False, till.default_float or 0
        else:
            automatic = rnd.random() < 0.03
            opening = previous
            draw = rnd.random()
            if not automatic and draw < 0.04:
                # Cash that appeared or went between two sessions: a start discrepancy.
                opening = max(0, previous + rnd.choice((-1, 1)) * rnd.randrange(5, 500, 5))
                note = "Float counted again: not what the last close left."
            elif not automatic and draw < 0.06:
                note = "Float counted by two."
        session = Opened(
            id=self.sessions.take_id(),
            till=till,
            store=store,
            main_id=main.id if main else None,
            opened_at=at,
            opened_by=by,
            automatic=automatic,
            note=note,
            opening=opening,
            previous=previous,
            last_at=at,
        )
        if not automatic and till.counts_by_denominations and opening and rnd.random() < 0.5:
            for value, quantity in self.breakdown(opening, store.denominations):
                session.counts.append(("opening", money(value), quantity))
        return session

    def fill(self, session: Opened, until: int) -> None:
        """Its sales, refunds and adjustments, spread over the shift; recorded by whoever
        opened it, as a terminal of theirs would."""
        rnd = self.random
        random_ = rnd.random
        till, totals = session.till, session.totals
        count = max(1, int(rnd.gauss(self.mean, self.mean * 0.25)))
        begin = session.opened_at + 30 * US
        step = max((until - begin) // count, 1)
        late_at = (
            rnd.randrange(count) if till.last_closed_at is not None and random_() < 0.03 else -1
        )
        adjust_at = {rnd.randrange(count) for _ in range(rnd.choice((0, 0, 0, 1, 1, 2)))}
        by = session.opened_by
        # Each sale twice, as text: its COPY line and its record in the closing hash's
        # JSON (journal.TRANSACTION_FIELDS), written directly: json.dumps of nine million
        # records was a third of the generator's time. Every text here is plain ASCII
        # without quotes or backslashes, so both forms need no escaping.
        lines, records = session.lines, session.transactions
        ids = self.transactions.ids
        head = f"{till.id}\t{session.id}\t"
        sale_pool, sale_text = self.sale_pool, self.sale_text
        refund_pool, refund_text = self.refund_pool, self.refund_text
        external = till.external
        received = begin
        for index in range(count):
            received = begin + index * step + int(random_() * step)
            if index == 0 and session.automatic:
                session.opened_at = received  # rule 2: the session starts with the first sale
            draw = random_()
            method = "cash" if draw < 0.35 else ("card" if draw < 0.95 else "voucher")
            if random_() < 0.03:
                pick = int(random_() * 1024)
                cents, text, kind = refund_pool[pick], refund_text[pick], "refund"
                totals.total_refunds += cents
                if method == "cash":
                    totals.cash_refunds += cents
                    totals.cash_refunds_count += 1
            else:
                pick = int(random_() * 4096)
                cents, text, kind = sale_pool[pick], sale_text[pick], "sale"
                totals.total_sales += cents
                if method == "cash":
                    totals.cash_sales += cents
                    totals.cash_sales_count += 1
            external += 1
            pk = next(ids)
            at = moment(received)
            if index == late_at:
                # It occurred before the register's last close and arrives now (late rule).
                occurred = moment(till.last_closed_at - rnd.randrange(60 * US, 3600 * US))
                lines.append(
                    f"{head}{pk}\t{kind}\t{method}\t{text}\t{occurred}\t{at}\tpos-{external}"
                    f"\tt\t{by}\t\\N"
                )
                records.append(
                    f'[{pk},"{kind}","{method}","{text}","{occurred}","{at}","pos-{external}",'
                    f"true,{by},null]"
                )
            else:
                lines.append(
                    f"{head}{pk}\t{kind}\t{method}\t{text}\t{at}\t{at}\tpos-{external}"
                    f"\tf\t{by}\t\\N"
                )
                records.append(
                    f'[{pk},"{kind}","{method}","{text}","{at}","{at}","pos-{external}",'
                    f"false,{by},null]"
                )
            if index in adjust_at:
                self.adjust(session, received + 1000)
        till.external = external
        session.last_at = max(session.last_at, received + 1000)

    def adjust(self, session: Opened, at: int) -> None:
        rnd = self.random
        totals = session.totals
        drawer = totals.cash(session.opening)
        if rnd.random() < 0.35:
            direction, reason = "in", rnd.choice(ADJUSTMENTS_IN)
            amount = rnd.randrange(500, 5000, 500)
            totals.adjustments_in += amount
        else:
            # Never more than the drawer holds: the services refuse that (409).
            amount = min(rnd.randrange(2000, 30000, 1000), drawer // 1000 * 1000)
            if amount <= 0:
                return
            direction, reason = "out", rnd.choice(ADJUSTMENTS_OUT)
            totals.adjustments_out += amount
        session.adjustments.append(
            (self.adjustments.take_id(), direction, money(amount), reason, moment(at),
             session.opened_by, None)
        )  # fmt: skip

    def close_sub(self, session: Opened, main: Opened, at: int, by: int) -> None:
        """Rule 9: nothing counted; the whole expected cash is booked on the main session."""
        expected = session.totals.cash(session.opening)
        transfer = (
            self.transfers.take_id(), session.id, main.id, money(expected), moment(at), by, None
        )  # fmt: skip
        session.transfers.append(transfer)
        main.transfers.append(transfer)
        main.totals.sub_register_cash += expected
        main.last_at = max(main.last_at, at)
        self.seal(
            session, closed_at=at, closed_by=by, note="", expected=expected, counted=None,
            retained=0, cash_removed=0, transferred=expected,
        )  # fmt: skip

    def close(self, session: Opened, at: int, by: int) -> None:
        rnd = self.random
        store, till = session.store, session.till
        at = max(at, session.last_at + US)
        expected = session.totals.cash(session.opening)
        start = 0 if session.previous is None else session.opening - session.previous
        not_counted = rnd.random() < (0.01 if till.role == "main" else 0.03)
        counted = None
        note = ""
        if not_counted:
            note = rnd.choice(NOT_COUNTED_NOTES)
        else:
            draw = rnd.random()
            if draw < 0.70:
                difference = 0
            elif draw < 0.96:
                difference = rnd.choice((-1, 1)) * rnd.randrange(1, 500)
            else:
                difference = rnd.choice((-1, 1)) * rnd.randrange(1001, 10000)
            counted = max(0, expected + difference)
            if till.counts_by_denominations:
                for value, quantity in self.breakdown(counted, store.denominations):
                    session.counts.append(("closing", money(value), quantity))
        ceiling = max(counted if counted is not None else expected, 0)
        retained = min(till.default_float or 0, ceiling)
        cash_removed = (counted if counted is not None else expected) - retained
        end = None if counted is None else counted - expected
        total = start + (end or 0)
        large = end is not None and max(abs(end), abs(total)) > store.threshold
        explained_after = large and till.blind and by != store.manager
        if large and not explained_after:
            note = rnd.choice(CONFIRM_NOTES)  # a confirmed discrepancy carries its note
        self.seal(
            session, closed_at=at, closed_by=by, note=note, expected=expected, counted=counted,
            retained=retained, cash_removed=cash_removed, transferred=0,
        )  # fmt: skip
        if explained_after:
            # A blind count by a cashier is booked; the explanation follows (a record).
            self.notes.add(
                (self.notes.take_id(), session.id, rnd.choice(CONFIRM_NOTES),
                 moment(at + rnd.randrange(60 * US, 3600 * US)), by, None)
            )  # fmt: skip
        if (
            end
            and session.opened_at < self.last_correction_day
            and rnd.random() < (0.3 if large else 0.01)
        ):
            self.correct(session, at, end)

    def correct(self, session: Opened, closed_at: int, end: int) -> None:
        rnd = self.random
        till, store = session.till, session.store
        amount = -end if rnd.random() < 0.7 else -end // 2 or -end
        created = max(
            closed_at + rnd.randrange(3600 * US, 20 * 3600 * US),
            till.last_correction_at + 60 * US,
        )
        till.last_correction_at = created
        till.correction_number += 1
        record = (
            session.id, till.id, till.correction_number, money(amount),
            rnd.choice(CORRECTION_REASONS), moment(created), store.manager,
        )  # fmt: skip
        till.correction_hash = correction_hash(
            correction=record, previous_hash=till.correction_hash
        )
        self.corrections.add((self.corrections.take_id(), *record, till.correction_hash))

    def seal(
        self,
        session: Opened,
        *,
        closed_at: int,
        closed_by: int,
        note: str,
        expected: int,
        counted: int | None,
        retained: int,
        cash_removed: int,
        transferred: int,
    ) -> None:
        """Number and hash the close (journal.seal_close's figures) and queue its rows."""
        till, totals = session.till, session.totals
        start = 0 if session.previous is None else session.opening - session.previous
        end = None if counted is None else counted - expected
        till.closing_number += 1
        row = [
            session.id, till.id, till.location_id, session.main_id, till.blind,
            moment(session.opened_at), session.opened_by, None, session.automatic, session.note,
            money(session.opening), None if session.previous is None else money(session.previous),
            money(start), money(totals.cash_sales), totals.cash_sales_count,
            money(totals.cash_refunds), totals.cash_refunds_count, money(totals.total_sales),
            money(totals.total_refunds), money(totals.adjustments_in),
            money(totals.adjustments_out), money(totals.sub_register_cash), moment(closed_at),
            closed_by, None, note, money(expected), None if counted is None else money(counted),
            None if end is None else money(end), money(retained), money(cash_removed),
            money(transferred), money(start + (end or 0)), till.closing_number,
        ]  # fmt: skip
        till.closing_hash = closing_hash(
            session=row,
            transactions=session.transactions,
            adjustments=session.adjustments,
            counts=session.counts,
            transfers=session.transfers,
            previous_hash=till.closing_hash,
        )
        till.retained = retained
        till.last_closed_at = closed_at
        self.sessions.add([*row, "closed", till.closing_hash])
        self.transactions.lines += session.lines
        for row_ in session.adjustments:
            self.adjustments.add((session.id, *row_))
        for stage, value, quantity in session.counts:
            self.counts.add((session.id, self.counts.take_id(), stage, value, quantity))
        for transfer in session.transfers:
            if transfer[1] == session.id:  # queued once, with the sub session's close
                self.transfers.add(transfer)

    @staticmethod
    def breakdown(cents: int, denominations: list[int]) -> list[tuple[int, int]]:
        """A drawer's count: the amount in notes and coins, largest first (no 500s)."""
        lines = []
        for value in denominations:
            if value >= 50_000 and cents < 200_000:
                continue
            quantity, cents = divmod(cents, value)
            if quantity:
                lines.append((value, quantity))
        if cents:  # a currency without 0.01: what no coin makes stays uncounted as coins
            raise ChainError("the count cannot be made from the currency's denominations")
        return lines

    @property
    def last_correction_day(self) -> int:
        """Corrections are made a day or so after a close: none for the last two days."""
        limit = self.end_date - dt.timedelta(days=1)
        return int(dt.datetime.combine(limit, dt.time.min, tzinfo=dt.UTC).timestamp()) * US


# --- loading ---------------------------------------------------------------------------------


def _loaded_models() -> tuple:
    return (TrackingSession, Transaction, Adjustment, CountLine, ClosingTransfer, Correction,
            DiscrepancyNote)  # fmt: skip


def _foreign_keys_and_indexes(cursor: Any, table: str) -> tuple[list, list]:
    """The table's foreign keys and its plain indexes (not backing a constraint), with
    the definitions to make them again exactly as they were."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    keys = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        ORDER BY i.relname
        """,
        [table],
    )
    return keys, cursor.fetchall()


def _reserve_ids(cursor: Any, table: Table) -> None:
    """The first id for the table's new rows: past its sequence and its largest id."""
    cursor.execute(
        f"SELECT GREATEST(nextval(pg_get_serial_sequence('{table.name}', 'id')),"
        f" (SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}))"
    )
    table.ids = itertools.count(cursor.fetchone()[0])


def _advance_sequence(cursor: Any, table: Table) -> None:
    """The sequence past the ids the load used, so the services' rows follow them."""
    if table.count:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), MAX(id)) "
            f"FROM {table.name}"
        )


def check_database() -> None:
    """Refuse where the chain cannot be made: SQLite, or a database that has locations."""
    if connection.vendor != "postgresql":
        raise ChainError(
            "generate_chain loads its rows with PostgreSQL's COPY: point DATABASE_URL at a "
            f"PostgreSQL database (this one is {connection.vendor})."
        )
    existing = Location.objects.count()
    if existing:
        raise ChainError(
            f"The database already has {existing} location(s). generate_chain fills an empty "
            "database only, so that a generated chain is never mixed with real records: use "
            "a fresh database (created, then `manage.py migrate`)."
        )


def generate(
    locations: int = 50,
    days: int = 365,
    *,
    sessions_per_day: int = 2,
    transactions: int = 60,
    end_date: dt.date | None = None,
    seed: int = 1,
    progress: bool = True,
    out: TextIO | None = None,
    analyze: bool = True,
) -> dict[str, Any]:
    """Generate the chain in one transaction; return the counts of what was made and the
    seconds each stage took. Raises ChainError where it cannot run (check_database)."""
    if locations < 1 or days < 1 or transactions < 1:
        raise ChainError("locations, days and transactions are at least 1")
    if not 1 <= sessions_per_day <= MAX_SESSIONS_PER_DAY:
        # Shorter shifts leave the subs no time between the main session's open and close.
        raise ChainError(f"sessions per day are 1 to {MAX_SESSIONS_PER_DAY}")
    out = out or sys.stderr
    end_date = end_date or (dt.date.today() - dt.timedelta(days=1))
    check_database()
    generator = Generator(
        locations=locations,
        days=days,
        sessions_per_day=sessions_per_day,
        transactions=transactions,
        end_date=end_date,
        seed=seed,
    )
    seconds: dict[str, float] = {}
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Nobody else writes these tables while the chain is made.
        tables = [model._meta.db_table for model in (Location, *_loaded_models())]
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE")
        check_database()  # again, under the lock

        stage = Progress("people and registers", locations, unit="", shown=progress, out=out)
        generator.make_stores()
        stage.update(locations)
        seconds["stores"] = stage.close()

        # The stores' rows have foreign-key checks pending (Django's are deferred to the
        # commit); PostgreSQL alters no table with pending events, so run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        dropped = []
        for table in generator.tables:
            keys, indexes = _foreign_keys_and_indexes(cursor, table.name)
            for name, _definition in keys:
                cursor.execute(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            dropped.append((table.name, keys, indexes))
            _reserve_ids(cursor, table)

        stage = Progress("sessions and sales", days, unit="rows", shown=progress, out=out)
        writer = Writer(raw)
        writer.start()
        try:
            for number in range(days):
                generator.day(generator.first_date + dt.timedelta(days=number))
                batch = [taken for table in generator.tables if (taken := table.take())]
                writer.send(batch)
                stage.update(1, sum(rows for _s, _d, rows in batch))
        finally:
            writer.finish()
        seconds["rows"] = stage.close()

        steps = sum(len(keys) + len(indexes) for _t, keys, indexes in dropped)
        stage = Progress("indexes and keys", steps, unit="", shown=progress, out=out)
        for table_name, keys, indexes in dropped:
            for _name, definition in indexes:
                cursor.execute(definition)
                stage.update(1)
            for name, definition in keys:
                # Checked here for every row at once, with one join.
                cursor.execute(f'ALTER TABLE {table_name} ADD CONSTRAINT "{name}" {definition}')
                stage.update(1)
        for table in generator.tables:
            _advance_sequence(cursor, table)
        seconds["indexes"] = stage.close()

    if analyze:
        stage = Progress("analyze", 1, unit="", shown=progress, out=out)
        # The planner's statistics for the new rows, before the first report reads them.
        small = (Location, Register, Membership, get_user_model())
        with connection.cursor() as cursor:
            for name in [model._meta.db_table for model in small] + [
                table.name for table in generator.tables
            ]:
                cursor.execute(f"ANALYZE {name}")
        stage.update(1)
        seconds["analyze"] = stage.close()
    seconds["total"] = time.monotonic() - started
    return {
        "locations": locations,
        "registers": locations * 4,
        "sessions": generator.sessions.count,
        "transactions": generator.transactions.count,
        "adjustments": generator.adjustments.count,
        "count_lines": generator.counts.count,
        "closing_transfers": generator.transfers.count,
        "corrections": generator.corrections.count,
        "discrepancy_notes": generator.notes.count,
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
    }
