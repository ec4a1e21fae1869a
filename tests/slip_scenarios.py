"""Closed sessions for the closing-slip tests (page and PDF), built with the services.

Amsterdam (EUR), 15 January 2026, local times:
- `worked_example`: DOMAIN.md's register R, counted as a total. Opened 150.00; cash sales
  45.50 and 20.00, a cash refund 5.50, a card sale 80.00; 10.00 out, 2.00 in; counted
  200.00, retained 150.00: expected 202.00, end −2.00, cash removed 50.00.
- `counted_close`: a register counted by denominations. Opened 100.00, a 25.00 cash sale;
  counted 2 × 50.00 + 1 × 20.00 + 3 × 0.50 = 121.50 against 125.00 expected (−3.50),
  retained 100.00, cash removed 21.50.
- `shared_close`: main C with Sub A and Sub B. A (rule 9's example): opened 20.00, 100.00
  cash, 10.00 cash refund, 50.00 card, 5.00 in, 3.00 out: transfers 112.00. B: opened
  0.00, 300.00 cash: transfers 300.00. C: opened 0.00, 100.00 cash, so 512.00 expected;
  counted 1 × 500.00 + 1 × 10.00 + 1 × 2.00 + 1 × 0.50 = 512.50 (+0.50), retaining
  0.00, so 512.50 removed. `busy=True` adds cash put in and taken out at C that sums
  to nothing (20.00 in; 15.00 and 5.00 out), for a fuller page with the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sessions_app import services
from sessions_app.models import TrackingSession

DAY = dt.date(2026, 1, 15)


def at(location, hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=location.tzinfo)


def sale(register, amount, when, *, kind="sale", method="cash", by=None):
    return services.record_transaction(
        register=register,
        kind=kind,
        payment_method=method,
        amount=amount,
        occurred_at=when,
        received_at=when,
        by=by,
    ).transaction


def worked_example(register, by) -> TrackingSession:
    location = register.location
    session = services.open_session(
        register=register, opening_float="150.00", by=by, at=at(location, 9)
    )
    sale(register, "45.50", at(location, 10))
    sale(register, "20.00", at(location, 11))
    sale(register, "5.50", at(location, 12), kind="refund")
    sale(register, "80.00", at(location, 13), method="card")
    services.adjust_float(
        session=session,
        direction="out",
        amount="10.00",
        reason="drawer over limit",
        by=by,
        at=at(location, 14),
    )
    services.adjust_float(
        session=session,
        direction="in",
        amount="2.00",
        reason="own money for change",
        by=by,
        at=at(location, 15),
    )
    return services.close_session(
        session=session,
        counted="200.00",
        retained_float="150.00",
        by=by,
        at=at(location, 18),
    )


def counted_close(register, by) -> TrackingSession:
    location = register.location
    session = services.open_session(
        register=register, opening_float="100.00", by=by, at=at(location, 8)
    )
    sale(register, "25.00", at(location, 12))
    return services.close_session(
        session=session,
        counts=[("50.00", 2), ("20.00", 1), ("0.50", 3)],
        retained_float="100.00",
        note="Two coins of 0.50 stuck in the tray",
        by=by,
        at=at(location, 20),
    )


@dataclass
class SharedClose:
    main: TrackingSession
    sub_a: TrackingSession
    sub_b: TrackingSession


def shared_close(main_register, sub_a, sub_b, by, *, busy: bool = False) -> SharedClose:
    location = main_register.location
    main = services.open_session(
        register=main_register, opening_float="0.00", by=by, at=at(location, 8)
    )
    a = services.open_session(register=sub_a, opening_float="20.00", by=by, at=at(location, 8, 5))
    b = services.open_session(register=sub_b, opening_float="0.00", by=by, at=at(location, 8, 10))
    sale(sub_a, "100.00", at(location, 10))
    sale(sub_a, "10.00", at(location, 11), kind="refund")
    sale(sub_a, "50.00", at(location, 12), method="card")
    services.adjust_float(
        session=a, direction="in", amount="5.00", reason="change", by=by, at=at(location, 13)
    )
    services.adjust_float(
        session=a, direction="out", amount="3.00", reason="to the safe", by=by, at=at(location, 14)
    )
    sale(sub_b, "300.00", at(location, 12, 30))
    sale(main_register, "100.00", at(location, 15))
    if busy:
        for minute, (direction, amount, reason) in enumerate(
            [
                ("in", "20.00", "change from the bank"),
                ("out", "15.00", "flowers for the shop window"),
                ("out", "5.00", "stamps"),
            ]
        ):
            services.adjust_float(
                session=main,
                direction=direction,
                amount=amount,
                reason=reason,
                by=by,
                at=at(location, 16, minute),
            )
    a = services.close_session(session=a, by=by, at=at(location, 19))
    b = services.close_session(session=b, by=by, at=at(location, 19, 5))
    main = services.close_session(
        session=main,
        counts=[("500.00", 1), ("10.00", 1), ("2.00", 1), ("0.50", 1)],
        retained_float="0.00",
        by=by,
        at=at(location, 19, 30),
    )
    return SharedClose(main=main, sub_a=a, sub_b=b)
