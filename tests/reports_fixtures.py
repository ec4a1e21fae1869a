"""A small chain for the report, CSV and admin-export tests, built with the services.

Amsterdam (EUR), 15 January 2026, local days:
- R (counted as a total): the worked example of DOMAIN.md (-2.00), then a session opened
  5.00 over the previous float and closed without a count; the next day a cash sale
  opens a third session automatically (outside a one-day range).
- Main C with Sub A: shared closing, 300.00 from A, 400.00 at C, counted 702.50 (+2.50).
Vienna (EUR): one session counted 5.00 short. Tokyo (JPY): one session, counted exact.
Text cells that a spreadsheet would run (a reason "=1+2", an external id "+31...") are
there on purpose.

Figures of the Amsterdam day, checked by hand against DOMAIN.md:
sessions 4 (R1, R2, C, A), not counted 1 (R2; the sub is neither), start reported 150.00
(R2's previous float), start counted 305.00, start discrepancy 5.00, end expected 902.00,
end counted 902.50, end discrepancy 0.50, total 5.50; cash gross 765.50, refunds 5.50,
net 760.00, 4 cash sales and 1 cash refund.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.urls import reverse

from cashdrawer.models import Location, Membership
from sessions_app import services
from sessions_app.models import TrackingSession

DAY = dt.date(2026, 1, 15)

REPORT_URLS = (
    "report-discrepancy",
    "report-cash-payments",
    "report-discrepancy-csv",
    "report-cash-payments-csv",
    "report-sessions-csv",
    "report-journal-csv",
    "report-corrections-csv",
)
CSV_URLS = REPORT_URLS[2:]


def local(location: Location, hour: int, minute: int = 0, *, days: int = 0) -> dt.datetime:
    return dt.datetime.combine(
        DAY + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=location.tzinfo
    )


def sell(register, amount, at, *, kind="sale", method="cash", external_id=None, by=None):
    return services.record_transaction(
        register=register,
        kind=kind,
        payment_method=method,
        amount=amount,
        occurred_at=at,
        received_at=at,
        external_id=external_id,
        by=by,
    ).transaction


@dataclass
class Chain:
    amsterdam: Location
    vienna: Location
    tokyo: Location
    r1: TrackingSession
    r2: TrackingSession
    r3: TrackingSession  # the next day
    main: TrackingSession
    sub: TrackingSession
    vienna_session: TrackingSession
    tokyo_session: TrackingSession
    manager_b: object  # manager of Vienna only
    chain_accountant: object  # accountant of Amsterdam and Vienna


@pytest.fixture
def chain(
    location,
    other_location,
    jpy_location,
    register,
    main_register,
    sub_a,
    make_register,
    make_user,
    manager,
) -> Chain:
    ams = location

    def at(hour, minute=0, *, days=0):
        return local(ams, hour, minute, days=days)

    r1 = services.open_session(register=register, opening_float="150.00", by=manager, at=at(8))
    sell(register, "45.50", at(9), external_id="+31 6 1234", by=manager)
    sell(register, "20.00", at(10), by=manager)
    sell(register, "5.50", at(11), kind="refund", by=manager)
    sell(register, "80.00", at(12), method="card", by=manager)
    services.adjust_float(
        session=r1, direction="out", amount="10.00", reason="drawer over limit", by=manager,
        at=at(13),
    )  # fmt: skip
    services.adjust_float(
        session=r1, direction="in", amount="2.00", reason="=1+2", by=manager, at=at(14)
    )
    services.close_session(
        session=r1, counted="200.00", retained_float="150.00", by=manager, at=at(15)
    )
    r2 = services.open_session(
        register=register, opening_float="155.00", note="@note", by=manager, at=at(16)
    )
    sell(register, "20.00", at(17), method="card")
    services.close_session(session=r2, by=manager, at=at(18))
    sell(register, "12.00", at(10, days=1))  # opens R3 automatically, the next day

    main = services.open_session(
        register=main_register, opening_float="0.00", by=manager, at=at(9, 30)
    )
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager, at=at(9, 35))
    sell(sub_a, "300.00", at(12, 30))
    sell(main_register, "400.00", at(13, 30))
    services.close_session(session=sub, by=manager, at=at(17, 30))
    services.close_session(
        session=main,
        counts=[
            {"value": "500.00", "quantity": 1},
            {"value": "200.00", "quantity": 1},
            {"value": "2.00", "quantity": 1},
            {"value": "0.50", "quantity": 1},
        ],
        by=manager,
        at=at(18, 30),
    )

    manager_b = make_user("bert", location=other_location, role="manager", first_name="Bert")
    vienna_register = make_register(other_location, name="Kasse 1", code="k1", count_method="total")
    vienna_session = services.open_session(
        register=vienna_register,
        opening_float="100.00",
        by=manager_b,
        at=local(other_location, 10),
    )
    sell(vienna_register, "10.00", local(other_location, 11))
    services.close_session(
        session=vienna_session,
        counted="105.00",
        retained_float="100.00",
        by=manager_b,
        at=local(other_location, 12),
    )

    tokyo_register = make_register(
        jpy_location,
        name="Tokyo 1",
        code="t1",
        count_method="total",
        default_float=Decimal("10000"),
    )
    tokyo_session = services.open_session(
        register=tokyo_register, opening_float="10000", by=None, at=local(jpy_location, 10)
    )
    sell(tokyo_register, "1500", local(jpy_location, 11))
    services.close_session(
        session=tokyo_session, counted="11500", by=None, at=local(jpy_location, 12)
    )

    chain_accountant = make_user("cora", first_name="Cora")
    for place in (ams, other_location):
        Membership.objects.create(user=chain_accountant, location=place, role="accountant")

    r3 = TrackingSession.objects.get(register=register, status="open")
    sessions = {
        s.pk: s for s in TrackingSession.objects.select_related("register", "location").all()
    }
    return Chain(
        amsterdam=ams,
        vienna=other_location,
        tokyo=jpy_location,
        r1=sessions[r1.pk],
        r2=sessions[r2.pk],
        r3=sessions[r3.pk],
        main=sessions[main.pk],
        sub=sessions[sub.pk],
        vienna_session=sessions[vienna_session.pk],
        tokyo_session=sessions[tokyo_session.pk],
        manager_b=manager_b,
        chain_accountant=chain_accountant,
    )


@pytest.fixture
def root(make_user):
    """A superuser: reads every location, and the admin."""
    return make_user("root", is_superuser=True, is_staff=True)


def day_params(location: Location | None = None, *, first=DAY, last=DAY, **extra) -> dict:
    params = {"from": first.isoformat(), "to": last.isoformat(), **extra}
    if location is not None:
        params["location"] = location.pk
    return params


def read_csv(response, *, delimiter: str = ",") -> list[dict[str, str]]:
    """The rows of a streamed CSV response, as dicts by column name."""
    assert response.streaming
    content = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(content.removeprefix("\ufeff")), delimiter=delimiter))


def csv_text(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def url(name: str) -> str:
    return reverse(name)
