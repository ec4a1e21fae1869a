"""Demo data: two stores with a few weeks of history, made only through the services.

Every session, sale, adjustment, close and correction goes through
sessions_app/services.py with its `at=` / `occurred_at=` / `received_at=` in the past,
so the demo obeys exactly the rules the app enforces and its figures add up by
construction. A fixed random seed makes the same history for the same day.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from cashdrawer.models import Denomination, Location, Membership, PaymentMethod, Register
from cashdrawer.money import ZERO
from sessions_app import services
from sessions_app.exceptions import DiscrepancyNeedsConfirmation
from sessions_app.models import Adjustment, Correction, TrackingSession, Transaction

DEMO_PASSWORD = "cashdrawer"
DEFAULT_DAYS = 28
SEED = 2026

AMSTERDAM = "Amsterdam Centrum"
VIENNA = "Wien Mariahilf"


@dataclass(frozen=True)
class RegisterSpec:
    name: str
    code: str
    role: str = Register.Role.STANDALONE
    count_method: str = Register.CountMethod.DENOMINATIONS
    default_float: Decimal | None = None
    main_code: str | None = None


@dataclass(frozen=True)
class LocationSpec:
    name: str
    currency: str
    timezone: str
    registers: tuple[RegisterSpec, ...]


LOCATIONS = (
    LocationSpec(
        AMSTERDAM,
        "EUR",
        "Europe/Amsterdam",
        (
            RegisterSpec("Till 1", "till-1", default_float=Decimal("150.00")),
            RegisterSpec(
                "Till 2",
                "till-2",
                count_method=Register.CountMethod.TOTAL,
                default_float=Decimal("100.00"),
            ),
        ),
    ),
    LocationSpec(
        VIENNA,
        "EUR",
        "Europe/Vienna",
        (
            RegisterSpec(
                "Hauptkasse", "main", role=Register.Role.MAIN, default_float=Decimal("200.00")
            ),
            RegisterSpec("Nebenkasse A", "sub-a", role=Register.Role.SUB, main_code="main"),
            RegisterSpec("Nebenkasse B", "sub-b", role=Register.Role.SUB, main_code="main"),
        ),
    ),
)


@dataclass(frozen=True)
class UserSpec:
    username: str
    first_name: str
    last_name: str
    superuser: bool = False
    roles: tuple[tuple[str, str], ...] = ()  # (location name, membership role)


BOTH = (AMSTERDAM, VIENNA)
USERS = (
    UserSpec("admin", "Alex", "Admin", superuser=True),
    UserSpec("manager", "Maria", "Jansen", roles=tuple((name, "manager") for name in BOTH)),
    UserSpec("anna", "Anna", "de Vries", roles=((AMSTERDAM, "manager"),)),
    UserSpec("cashier", "Chris", "Bakker", roles=tuple((name, "cashier") for name in BOTH)),
    UserSpec("accountant", "Eva", "Huber", roles=tuple((name, "accountant") for name in BOTH)),
)

ADJUSTMENT_REASONS = {
    "over_limit": "drawer over limit",
    "own_money": "own money for change",
    "taken_out": "cash taken out temporarily",
    "returned": "cash taken out temporarily: returned",
}
DISCREPANCIES = [Decimal(v) for v in ("0.50", "1.00", "2.00", "2.50", "5.00", "10.00")]
CENT = Decimal("0.01")
OFTEN_SHORT = "till-2"  # Amsterdam's Till 2
# What staff write when they confirm a count past the location's threshold.
CONFIRMED_NOTES = [
    "Counted twice; the difference stays.",
    "Recounted with the shift lead; no explanation yet.",
    "A large note may have been given as change by mistake.",
]


@dataclass(frozen=True)
class SeedResult:
    created: bool
    locations: int
    registers: int
    sessions: int
    open_sessions: int
    transactions: int
    adjustments: int
    corrections: int


def break_into_denominations(
    amount: Decimal, values: Iterable[Decimal], *, largest: Decimal | None = None
) -> list[tuple[Decimal, int]]:
    """Greedy: as many of the largest denomination as fit, then the next one down.

    `largest` leaves out bigger notes, as a float of change has no 100s in it.
    """
    remaining = amount
    lines: list[tuple[Decimal, int]] = []
    for value in sorted(values, reverse=True):
        if largest is not None and value > largest:
            continue
        quantity = int(remaining // value)
        if quantity:
            lines.append((value, quantity))
            remaining -= value * quantity
    if remaining:
        raise ValueError(f"{amount} cannot be made of the denominations {sorted(values)}.")
    return lines


def seed_demo(
    *,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    seed: int = SEED,
    log: Callable[[str], object] | None = None,
) -> SeedResult:
    """Create the demo stores, staff and `days` days of history ending today.

    Does nothing when a demo store already exists, and never creates a user twice.
    """
    if days < 2:
        raise ValueError("The demo needs at least 2 days: a closed one and today.")
    now = now or timezone.now()
    cash_step = Decimal("0.05")  # cash totals are rounded to 0.05 in the Netherlands
    # One transaction: all or nothing, and on SQLite one commit instead of thousands.
    with transaction.atomic():
        if Location.objects.filter(name__in=[spec.name for spec in LOCATIONS]).exists():
            return _result(created=False)
        users = _ensure_users()
        locations = [_create_location(spec) for spec in LOCATIONS]
        _ensure_memberships(users)
        history = _History(
            rng=random.Random(seed), users=users, now=now, days=days, cash_step=cash_step
        )
        for location in locations:
            if log is not None:
                log(f"{location.name}: {days} days of sessions ...")
            history.build(location)
    return _result(created=True)


def _result(*, created: bool) -> SeedResult:
    names = [spec.name for spec in LOCATIONS]
    sessions = TrackingSession.objects.filter(location__name__in=names)
    return SeedResult(
        created=created,
        locations=Location.objects.filter(name__in=names).count(),
        registers=Register.objects.filter(location__name__in=names).count(),
        sessions=sessions.count(),
        open_sessions=sessions.filter(status=TrackingSession.Status.OPEN).count(),
        transactions=Transaction.objects.filter(register__location__name__in=names).count(),
        adjustments=Adjustment.objects.filter(session__location__name__in=names).count(),
        corrections=Correction.objects.filter(session__location__name__in=names).count(),
    )


# --- reference data ---------------------------------------------------------------------


def _ensure_users() -> dict[str, Any]:
    """The demo users; one that already exists is left exactly as it is."""
    User = get_user_model()
    # Hashing is deliberately slow; the demo users share one password, so hash it once.
    password = make_password(DEMO_PASSWORD)
    users = {}
    for spec in USERS:
        user, _ = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@cashdrawer.invalid",
                "is_staff": spec.superuser,
                "is_superuser": spec.superuser,
                "password": password,
            },
        )
        users[spec.username] = user
    return users


def _ensure_memberships(users: dict[str, Any]) -> None:
    locations = {location.name: location for location in Location.objects.all()}
    for spec in USERS:
        for location_name, role in spec.roles:
            Membership.objects.get_or_create(
                user=users[spec.username],
                location=locations[location_name],
                defaults={"role": role},
            )


def _create_location(spec: LocationSpec) -> Location:
    location = Location(name=spec.name, currency=spec.currency, timezone=spec.timezone)
    location.full_clean()
    location.save()
    # Cash and card come with every location; the demo stores also take vouchers.
    PaymentMethod.objects.create(location=location, name="voucher")
    by_code: dict[str, Register] = {}
    for register_spec in spec.registers:
        register = Register(
            location=location,
            name=register_spec.name,
            code=register_spec.code,
            role=register_spec.role,
            count_method=register_spec.count_method,
            default_float=register_spec.default_float,
            main_register=by_code.get(register_spec.main_code or ""),
        )
        register.full_clean()
        register.save()
        by_code[register.code] = register
    return location


# --- history ----------------------------------------------------------------------------


@dataclass
class _Sale:
    at: dt.datetime
    kind: str
    method: str
    amount: Decimal
    external_id: str | None


class _History:
    """Plays `days` days of one store's shifts through the services, oldest first."""

    def __init__(
        self,
        *,
        rng: random.Random,
        users: dict[str, Any],
        now: dt.datetime,
        days: int,
        cash_step: Decimal,
    ):
        self.rng = rng
        self.cash_step = cash_step
        self.users = users
        self.now = now
        self.days = days
        self.denominations: dict[str, list[Decimal]] = {}
        self.special: dict[str, dt.date] = {}  # per store, see build()
        self.stuck_sale: _Sale | None = None  # the late one, held back by its terminal

    # -- one store

    def build(self, location: Location) -> None:
        tz = location.tzinfo
        today = self.now.astimezone(tz).date()
        first_day = today - dt.timedelta(days=self.days - 1)
        closed_days = self.days - 1
        # The special cases land on recent days, so they are there however short the run.
        self.special = {
            "late": first_day + dt.timedelta(days=max(0, closed_days - 5)),
            "not_counted": first_day + dt.timedelta(days=max(0, closed_days - 3)),
            "corrected": first_day + dt.timedelta(days=max(0, closed_days - 6)),
            "opened_by_a_sale": first_day + dt.timedelta(days=closed_days - 1),
            # Till 2's worst evening: past the threshold, confirmed with a note, an alert.
            "large_shortage": first_day + dt.timedelta(days=max(0, closed_days - 2)),
        }
        self.stuck_sale = None
        registers = list(location.registers.select_related("location", "main_register"))
        for offset in range(self.days):
            day = first_day + dt.timedelta(days=offset)
            if location.name == VIENNA:
                self._shared_closing_day(location, registers, day, is_today=day == today)
            else:
                for register in registers:
                    self._standalone_day(location, register, day, is_today=day == today)

    def _standalone_day(
        self, location: Location, register: Register, day: dt.date, *, is_today: bool
    ) -> None:
        opens, closes = self._shop_hours(location, day)
        opens += dt.timedelta(minutes=self.rng.randint(-10, 15))
        if is_today:
            opens = self._not_after_now(opens, location, minutes_before=2)
        by_hand = (
            is_today or self.rng.random() > 0.12 or self._receives_stuck_sale(register)
        ) and not (register.code == "till-1" and day == self.special["opened_by_a_sale"])
        session = self._open(register, opens, by=self._staff(location), by_hand=by_hand)
        sales = self._sales(register, day, opens, closes, busy=1.0)
        session = self._play(register, session, sales, until=self.now if is_today else None)
        if is_today or session is None:
            return
        if register.code == "till-1" and day == self.special["not_counted"]:
            self._close(
                session,
                closes,
                count=False,
                note="Closed in a hurry; not counted.",
                location=location,
            )
        elif register.code == OFTEN_SHORT and day == self.special["large_shortage"]:
            self._close(
                session,
                closes,
                location=location,
                discrepancy=-Decimal("45.50"),
                note="Counted twice with the shift lead; a 50 note may have gone out as change.",
            )
        else:
            self._close(session, closes, location=location)

    def _shared_closing_day(
        self, location: Location, registers: list[Register], day: dt.date, *, is_today: bool
    ) -> None:
        """The main register opens first and closes last; its subs open and close inside."""
        main = next(r for r in registers if r.is_main)
        subs = [r for r in registers if r.is_sub]
        opens, closes = self._shop_hours(location, day)
        opens -= dt.timedelta(minutes=self.rng.randint(10, 25))
        if is_today:
            opens = self._not_after_now(opens, location, minutes_before=3)
        main_session = self._open(main, opens, by=self._staff(location), by_hand=True)
        for number, sub in enumerate(subs, start=1):
            sub_opens = opens + dt.timedelta(minutes=self.rng.randint(10, 30))
            if is_today:
                sub_opens = self._not_after_now(sub_opens, location, minutes_before=2 - number / 2)
            sub_closes = closes - dt.timedelta(minutes=self.rng.randint(10, 25))
            by_hand = is_today or self.rng.random() > 0.3
            session = self._open(sub, sub_opens, by=self._staff(location), by_hand=by_hand)
            sales = self._sales(sub, day, sub_opens, sub_closes, busy=0.6)
            session = self._play(sub, session, sales, until=self.now if is_today else None)
            if not is_today and session is not None:
                self._close(session, sub_closes, location=location)
        sales = self._sales(main, day, opens, closes, busy=1.0)
        main_session = self._play(main, main_session, sales, until=self.now if is_today else None)
        if is_today:
            return
        corrected = day == self.special["corrected"]
        closed = self._close(
            main_session,
            closes,
            location=location,
            discrepancy=-Decimal("10.00") if corrected else None,
        )
        if corrected:
            services.add_correction(
                session=closed,
                amount="10.00",
                reason="10.00 note found under the cash tray the next morning.",
                by=self.users["manager"],
                at=min(closes + dt.timedelta(hours=13, minutes=5), self.now),
            )

    # -- opening, playing, closing one session

    def _open(
        self, register: Register, at: dt.datetime, *, by: Any, by_hand: bool
    ) -> TrackingSession | None:
        """Open by hand, or leave it to the first sale (returns None then)."""
        if not by_hand:
            return None
        location = register.location
        if register.is_sub:
            return services.open_session(register=register, opening_float="0.00", by=by, at=at)
        previous = services.previous_closing_float(register)
        opening = previous if previous is not None else register.default_float or ZERO
        note = ""
        if previous is not None and self.rng.random() < 0.04:
            # Now and then the morning count does not match last night's float.
            opening += self.rng.choice([Decimal("-0.50"), Decimal("-1.00"), Decimal("0.50")])
            note = "Float does not match last night's; counted twice."
        if register.count_method == Register.CountMethod.TOTAL:
            return services.open_session(
                register=register, opening_float=opening, note=note, by=by, at=at
            )
        counts = break_into_denominations(
            opening, self._denominations(location.currency), largest=Decimal("20")
        )
        return services.open_session(
            register=register, opening_counts=counts, note=note, by=by, at=at
        )

    def _play(
        self,
        register: Register,
        session: TrackingSession | None,
        sales: list[_Sale],
        *,
        until: dt.datetime | None,
    ) -> TrackingSession | None:
        """Record the day's sales in order, with the odd adjustment in between."""
        stuck = self.stuck_sale
        if (
            session is not None
            and stuck is not None
            and register.code == "till-2"
            and stuck.at < session.opened_at
        ):
            # The terminal was offline at last night's close and sends its sale now.
            self.stuck_sale = None
            received = session.opened_at + dt.timedelta(minutes=7)
            services.record_transaction(
                register=register,
                kind=stuck.kind,
                payment_method=stuck.method,
                amount=stuck.amount,
                occurred_at=stuck.at,
                received_at=min(received, self.now),
                external_id=stuck.external_id,
            )
        expected = session.opening_float if session is not None else None
        limit = (register.default_float or Decimal("100.00")) + Decimal("350.00")
        plans = self._adjustment_plans()
        taken_out: Decimal | None = None
        for sale in sales:
            if until is not None and sale.at > until:
                break
            if (
                sale.kind == Transaction.Kind.REFUND
                and sale.method == "cash"
                and (expected is None or sale.amount > expected)
            ):
                sale.method = "card"  # the drawer cannot pay it out: back to the card
            recorded = services.record_transaction(
                register=register,
                kind=sale.kind,
                payment_method=sale.method,
                amount=sale.amount,
                occurred_at=sale.at,
                received_at=sale.at,
                external_id=sale.external_id,
                by=None if sale.external_id else self.users["cashier"],
            )
            if session is None:
                session = recorded.transaction.session
                expected = session.opening_float
            if sale.method == "cash":
                expected += sale.amount if sale.kind == Transaction.Kind.SALE else -sale.amount
            later = sale.at + dt.timedelta(minutes=self.rng.randint(1, 4))
            if until is not None and later > until:
                continue
            if "over_limit" in plans and expected > limit:
                plans.discard("over_limit")
                amount = Decimal(int((expected - limit + Decimal("150")) // 50) * 50)
                self._adjust(session, "out", amount, "over_limit", later)
                expected -= amount
            elif "own_money" in plans and sale.method == "cash":
                plans.discard("own_money")
                amount = self.rng.choice([Decimal("5.00"), Decimal("10.00"), Decimal("20.00")])
                self._adjust(session, "in", amount, "own_money", later)
                expected += amount
            elif "taken_out" in plans and expected > Decimal("80.00"):
                plans.discard("taken_out")
                taken_out = self.rng.choice([Decimal("20.00"), Decimal("30.00"), Decimal("50.00")])
                self._adjust(session, "out", taken_out, "taken_out", later)
                expected -= taken_out
            elif taken_out is not None and self.rng.random() < 0.15:
                self._adjust(session, "in", taken_out, "returned", later)
                expected += taken_out
                taken_out = None
        return session

    def _adjust(
        self, session: TrackingSession, direction: str, amount: Decimal, why: str, at: dt.datetime
    ) -> None:
        services.adjust_float(
            session=session,
            direction=direction,
            amount=amount,
            reason=ADJUSTMENT_REASONS[why],
            by=self.users["cashier"],
            at=at,
        )

    def _close(
        self,
        session: TrackingSession,
        at: dt.datetime,
        *,
        location: Location,
        count: bool = True,
        discrepancy: Decimal | None = None,
        note: str = "",
    ) -> TrackingSession:
        register = session.register
        by = self._staff(location)
        if register.is_sub:
            return services.close_session(session=session, by=by, at=at)
        if not count:
            return services.close_session(session=session, note=note, by=by, at=at)
        session.refresh_from_db()
        expected = session.current_expected_cash
        if discrepancy is None:
            discrepancy = ZERO
            if register.code == OFTEN_SHORT and self.rng.random() < 0.3:
                # The demo's story for the charts: one till comes up short again and again.
                discrepancy = -self.rng.choice(DISCREPANCIES[:4])
            elif self.rng.random() < 0.12:
                discrepancy = self.rng.choice(DISCREPANCIES) * self.rng.choice([-1, 1])
        counted = max(expected + discrepancy, ZERO)
        retained = min(register.default_float or ZERO, counted)
        if register.count_method == Register.CountMethod.TOTAL:
            count_kwargs: dict[str, Any] = {"counted": counted}
        else:
            count_kwargs = {
                "counts": break_into_denominations(
                    counted, self._denominations(location.currency), largest=Decimal("50")
                )
            }
        kwargs = {"session": session, "retained_float": retained, "by": by, "at": at}
        try:
            return services.close_session(**kwargs, **count_kwargs, note=note)
        except DiscrepancyNeedsConfirmation:
            # Past the location's threshold: the staff member counts again and confirms.
            return services.close_session(
                **kwargs,
                **count_kwargs,
                note=note or self.rng.choice(CONFIRMED_NOTES),
                confirm_discrepancy=True,
            )

    # -- the day's sales

    def _sales(
        self,
        register: Register,
        day: dt.date,
        opens: dt.datetime,
        closes: dt.datetime,
        *,
        busy: float,
    ) -> list[_Sale]:
        rng = self.rng
        weekday = day.weekday()
        low, high = (15, 25) if weekday == 6 else (30, 60) if weekday == 5 else (15, 40)
        count = max(15, min(60, round(rng.randint(low, high) * busy)))
        window = (closes - opens).total_seconds()
        times = []
        for _ in range(count):
            # Busiest around lunch and after work.
            shape = rng.random()
            if shape < 0.4:
                share = rng.triangular(0.03, 0.98, 0.35)
            elif shape < 0.8:
                share = rng.triangular(0.03, 0.98, 0.75)
            else:
                share = rng.uniform(0.03, 0.98)
            times.append(opens + dt.timedelta(seconds=round(window * share)))
        times.sort()
        sales = []
        for number, at in enumerate(times, start=1):
            pick = rng.random()
            method = "cash" if pick < 0.40 else "card" if pick < 0.95 else "voucher"
            kind = Transaction.Kind.SALE
            amount = self._price()
            if rng.random() < 0.03:
                kind = Transaction.Kind.REFUND
                method = "cash" if rng.random() < 0.7 else "card"
                amount = min(amount, Decimal("40.00"))
            if method == "cash":
                amount = (amount / self.cash_step).to_integral_value() * self.cash_step
            # Most come from the POS terminal; now and then one is entered by hand.
            external_id = f"{register.code}-{day:%Y%m%d}-{number:03d}"
            if rng.random() < 0.08:
                external_id = None
            sales.append(_Sale(at, kind, method, amount, external_id))
        if register.code == "till-2" and day == self.special["late"]:
            # A card sale just before the close that the terminal could not send until the
            # next morning: it arrives late (DOMAIN.md) and lands on the next session.
            at = closes - dt.timedelta(minutes=18)
            self.stuck_sale = _Sale(
                at,
                Transaction.Kind.SALE,
                "card",
                Decimal("42.95"),
                f"{register.code}-{day:%Y%m%d}-{len(sales) + 1:03d}",
            )
        return sales

    def _price(self) -> Decimal:
        # Mostly small baskets (median about 18.00), a few big ones; prices end in 0 or 5.
        cents = round(self.rng.lognormvariate(7.5, 0.7))
        cents = max(350, min(12000, cents))
        return (Decimal(cents - cents % 5) * CENT).quantize(CENT)

    # -- small helpers

    def _shop_hours(self, location: Location, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        weekday = day.weekday()
        if weekday == 6:
            opening, closing = dt.time(11, 45), dt.time(18, 0)
        elif weekday == 5:
            opening, closing = dt.time(9, 15), dt.time(19, 0)
        else:
            opening, closing = dt.time(8, 45), dt.time(20, 0)
        tz = location.tzinfo
        opens = dt.datetime.combine(day, opening, tzinfo=tz)
        closes = dt.datetime.combine(day, closing, tzinfo=tz) + dt.timedelta(
            minutes=self.rng.randint(0, 35)
        )
        return opens, closes

    def _not_after_now(
        self, at: dt.datetime, location: Location, *, minutes_before: float
    ) -> dt.datetime:
        """Today's morning may still be ahead: then open just now (never before midnight)."""
        midnight = dt.datetime.combine(
            self.now.astimezone(location.tzinfo).date(), dt.time(0), tzinfo=location.tzinfo
        )
        return max(min(at, self.now - dt.timedelta(minutes=minutes_before)), midnight)

    def _receives_stuck_sale(self, register: Register) -> bool:
        return register.code == "till-2" and self.stuck_sale is not None

    def _staff(self, location: Location) -> Any:
        lead = "anna" if location.name == AMSTERDAM else "manager"
        return self.users["cashier" if self.rng.random() < 0.8 else lead]

    def _denominations(self, currency: str) -> list[Decimal]:
        if currency not in self.denominations:
            self.denominations[currency] = list(
                Denomination.objects.filter(currency=currency).values_list("value", flat=True)
            )
        return self.denominations[currency]

    def _adjustment_plans(self) -> set[str]:
        plans = set()
        if self.rng.random() < 0.5:
            plans.add("over_limit")  # only happens if the drawer actually gets that full
        if self.rng.random() < 0.08:
            plans.add("own_money")
        if self.rng.random() < 0.06:
            plans.add("taken_out")
        return plans
