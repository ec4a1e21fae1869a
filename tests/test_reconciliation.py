"""Overviews that reconcile (issue 9, item 3).

For every location and range: start counted − reported = start discrepancy (registers'
first sessions, with no previous close, on a line of their own), end counted − expected =
end discrepancy (sessions closed without a count on a line of their own), and a sum of
cash removed counts every coin that left the store's drawers once: a sub-register's cash
is transferred to its main register (transferred_to_main) and removed there.

A property test plays random histories with shared closes through the services, on
PostgreSQL, and checks these identities over every range of their days; two examples from
the issue (an Amsterdam-like month, a Wien-like shared close) check the figures by hand.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cashdrawer.models import Location, Register
from reports import selectors
from reports.exports import SESSION_COLUMNS, session_rows
from reports.filters import narrow, session_narrowing
from sessions_app import services
from sessions_app.models import TrackingSession
from tests.conftest import LENIENT

pytestmark = pytest.mark.django_db

D = Decimal
FIRST_DAY = dt.date(2026, 3, 2)
CENT = D("0.01")

_names = itertools.count(1)
REMOVED = SESSION_COLUMNS.index("cash_removed")
TRANSFERRED = SESSION_COLUMNS.index("transferred_to_main")


def _at(location: Location, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(
        FIRST_DAY + dt.timedelta(days=day), dt.time(hour, minute), tzinfo=location.tzinfo
    )


def _money(cents: int) -> str:
    return str((D(cents) * CENT).quantize(CENT))


def _counts(cents: int) -> list[dict]:
    """A count of `cents` in notes of 100.00 and one-cent coins."""
    return [
        {"value": "100.00", "quantity": cents // 10000},
        {"value": "0.01", "quantity": cents % 10000},
    ]


def _reconciles(overview: selectors.DiscrepancyOverview) -> None:
    assert overview.start_counted - overview.start_reported == overview.start_discrepancy
    assert overview.end_counted - overview.end_expected == overview.end_discrepancy
    assert overview.total_discrepancy == overview.start_discrepancy + overview.end_discrepancy
    assert (
        overview.total_discrepancy_after_corrections
        == overview.total_discrepancy + overview.corrections_total
    )


# --- random histories --------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=30000)

shift = st.fixed_dictionaries(
    {
        # The standalone register: opened by hand (a float) or by its first sale (None).
        "float": st.one_of(st.none(), cents),
        "sales": st.lists(st.integers(1, 20000), max_size=3),
        "refund": st.integers(0, 100),  # percent of what the drawer holds
        "put_in": st.integers(0, 5000),
        "count": st.one_of(st.none(), st.integers(-3000, 3000)),  # None: not counted
        "retain": st.integers(0, 100),  # percent of the counted (or expected) cash
        "close": st.booleans(),
        # The shared close: main M with subs A and B.
        "shared": st.booleans(),
        "main_float": cents,
        "sub_floats": st.tuples(cents, cents),
        "sub_sales": st.tuples(st.integers(0, 40000), st.integers(0, 40000)),
        "main_sales": st.integers(0, 40000),
        "main_count": st.one_of(st.none(), st.integers(-3000, 3000)),
        "main_retain": st.integers(0, 100),
        "corrections": st.lists(st.integers(-5000, 5000).filter(bool), max_size=2),
    }
)


def _close(session, *, difference, retain_percent, by, at, by_denominations=False):
    """Close counted at expected + difference (at least 0.00), or not counted."""
    session.refresh_from_db()
    expected_cents = int(session.current_expected_cash / CENT)
    kwargs = {}
    if difference is None:
        base = expected_cents
    else:
        base = max(expected_cents + difference, 0)
        if by_denominations:
            kwargs["counts"] = _counts(base)
        else:
            kwargs["counted"] = _money(base)
    retained = max(base, 0) * retain_percent // 100
    return services.close_session(
        session=session, retained_float=_money(retained), by=by, at=at, **kwargs
    )


def _play(history: list[dict], manager) -> Location:
    location = Location.objects.create(
        name=f"Store {next(_names)}",
        currency="EUR",
        timezone="Europe/Amsterdam",
        discrepancy_threshold=LENIENT,
    )
    till = Register.objects.create(
        location=location, name="Till", code="till", count_method="total"
    )
    main = Register.objects.create(location=location, name="Haupt", code="m", role="main")
    subs = [
        Register.objects.create(
            location=location, name=f"Neben {n}", code=f"s{n}", role="sub", main_register=main
        )
        for n in "AB"
    ]
    open_till = None
    for day, plan in enumerate(history):

        def at(hour: int, minute: int = 0, day: int = day) -> dt.datetime:
            return _at(location, day, hour, minute)

        closed = []
        # The standalone register.
        if open_till is None and plan["float"] is not None:
            open_till = services.open_session(
                register=till, opening_float=_money(plan["float"]), by=manager, at=at(8)
            )
        for n, amount in enumerate(plan["sales"]):
            recorded = services.record_transaction(
                register=till,
                kind="sale",
                payment_method="cash",
                amount=_money(amount),
                occurred_at=at(9, n),
                received_at=at(9, n),
                by=manager,
            )
            open_till = recorded.transaction.session
        if open_till is not None:
            open_till.refresh_from_db()
            holds = int(open_till.current_expected_cash / CENT)
            refund = holds * plan["refund"] // 100
            if refund:
                services.record_transaction(
                    register=till,
                    kind="refund",
                    payment_method="cash",
                    amount=_money(refund),
                    occurred_at=at(10),
                    received_at=at(10),
                    by=manager,
                )
            if plan["put_in"]:
                services.adjust_float(
                    session=open_till,
                    direction="in",
                    amount=_money(plan["put_in"]),
                    reason="change",
                    by=manager,
                    at=at(11),
                )
            if plan["close"]:
                closed.append(
                    _close(
                        open_till,
                        difference=plan["count"],
                        retain_percent=plan["retain"],
                        by=manager,
                        at=at(18),
                    )
                )
                open_till = None
        # The shared close.
        if plan["shared"]:
            main_session = services.open_session(
                register=main, opening_float=_money(plan["main_float"]), by=manager, at=at(8, 30)
            )
            sub_sessions = [
                services.open_session(
                    register=sub, opening_float=_money(opening), by=manager, at=at(8, 40 + n)
                )
                for n, (sub, opening) in enumerate(zip(subs, plan["sub_floats"], strict=True))
            ]
            for n, (sub, amount) in enumerate(zip(subs, plan["sub_sales"], strict=True)):
                if amount:
                    services.record_transaction(
                        register=sub,
                        kind="sale",
                        payment_method="cash",
                        amount=_money(amount),
                        occurred_at=at(12, n),
                        received_at=at(12, n),
                        by=manager,
                    )
            if plan["main_sales"]:
                services.record_transaction(
                    register=main,
                    kind="sale",
                    payment_method="cash",
                    amount=_money(plan["main_sales"]),
                    occurred_at=at(13),
                    received_at=at(13),
                    by=manager,
                )
            for n, sub_session in enumerate(sub_sessions):
                closed.append(services.close_session(session=sub_session, by=manager, at=at(17, n)))
            closed.append(
                _close(
                    main_session,
                    difference=plan["main_count"],
                    retain_percent=plan["main_retain"],
                    by=manager,
                    at=at(19),
                    by_denominations=True,
                )
            )
        for n, amount in enumerate(plan["corrections"]):
            if closed:
                services.add_correction(
                    session=closed[n % len(closed)],
                    amount=_money(abs(amount)) if amount > 0 else "-" + _money(-amount),
                    reason="recount",
                    by=manager,
                    at=at(22, n),
                )
    return location


def _check_every_range(location: Location, days: int) -> None:
    for first, last in itertools.combinations_with_replacement(range(days), 2):
        first_day = FIRST_DAY + dt.timedelta(days=first)
        last_day = FIRST_DAY + dt.timedelta(days=last)
        sessions = selectors.sessions_in_range([location], first_day, last_day)
        overview = selectors.discrepancy_overview(sessions)
        _reconciles(overview)
        [(_, by_location)] = selectors.discrepancy_by_location([location], first_day, last_day)
        assert by_location == overview

        rows = list(selectors.session_list(sessions))
        assert overview.sessions == len(rows)
        firsts = [s for s in rows if s.previous_closing_float is None]
        assert overview.first_openings == len(firsts)
        assert overview.first_openings_float == sum((s.opening_float for s in firsts), D(0))
        assert overview.total_discrepancy == sum((s.total_discrepancy for s in rows), D(0))
        assert overview.total_discrepancy_after_corrections == sum(
            (s.total_discrepancy_after_corrections for s in rows), D(0)
        )
        own_closed = [s for s in rows if not s.is_open and s.main_session_id is None]
        not_counted = [s for s in own_closed if s.counted_cash is None]
        assert overview.not_counted_sessions == len(not_counted)
        assert overview.not_counted_expected == sum((s.expected_cash for s in not_counted), D(0))
        for session in rows:
            if session.is_open:
                assert session.transferred_to_main is None
            elif session.main_session_id is not None:
                # A sub's cash went to its main register and is removed there.
                assert session.cash_removed == D(0)
                assert session.transferred_to_main == session.expected_cash
            else:
                assert session.transferred_to_main == D(0)


def _check_cash_removed_counts_every_coin_once(location: Location) -> None:
    """Over the whole history: what left the drawers (the sum of cash removed) is what
    came in (first openings' floats, start discrepancies, net cash, cash put in, end
    discrepancies) minus what the registers' last closes left in their drawers."""
    closed = list(
        TrackingSession.objects.filter(location=location, status="closed").order_by("closed_at")
    )
    came_in = sum(
        (
            (s.opening_float if s.previous_closing_float is None else s.start_discrepancy)
            + s.cash_sales
            - s.cash_refunds
            + s.adjustments_in
            - s.adjustments_out
            + (s.end_discrepancy or D(0))
            for s in closed
        ),
        D(0),
    )
    last_retained = {s.register_id: s.retained_float for s in closed}
    removed = sum((s.cash_removed for s in closed), D(0))
    assert removed == came_in - sum(last_retained.values(), D(0))
    # sessions.csv says the same.
    rows = list(
        session_rows(selectors.session_list(TrackingSession.objects.filter(location=location)))
    )
    assert sum((row[REMOVED].value or D(0) for row in rows), D(0)) == removed


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(shift, min_size=1, max_size=4))
def test_overviews_reconcile_for_every_range_of_random_histories(manager, history):
    location = _play(history, manager)
    _check_every_range(location, len(history))
    _check_filtered(location, len(history))
    _check_cash_removed_counts_every_coin_once(location)


# The session filters (issue 11): each value, and a pair that splits every set in two.
FILTERS = [
    {"status": "open"},
    {"status": "closed"},
    {"counted": "true"},
    {"counted": "false"},
    {"late": "true"},
    {"late": "false"},
    {"discrepancy": "short"},
    {"discrepancy": "over"},
    {"discrepancy": "any"},
    {"min_discrepancy": "10.00"},
    {"discrepancy": "short", "counted": "true"},
]
SPLITS = [("status", "open", "closed"), ("late", "true", "false")]


def _check_filtered(location: Location, days: int) -> None:
    """The overview of a filtered set is computed as over all sessions: it reconciles, it
    sums its own rows, the per-location one is the same, and a filter and its opposite add
    up to the whole."""
    first_day, last_day = FIRST_DAY, FIRST_DAY + dt.timedelta(days=days - 1)
    everything = selectors.sessions_in_range([location], first_day, last_day)

    def overview(params):
        sessions = narrow(everything, session_narrowing(params))
        return sessions, selectors.discrepancy_overview(sessions)

    for params in FILTERS:
        sessions, filtered = overview(params)
        _reconciles(filtered)
        [(_, by_location)] = selectors.discrepancy_by_location(
            [location], first_day, last_day, sessions=sessions
        )
        assert by_location == filtered
        rows = list(sessions)
        assert filtered.sessions == len(rows)
        assert filtered.total_discrepancy == sum((s.total_discrepancy for s in rows), D(0))
        if "discrepancy" in params or "min_discrepancy" in params:
            assert all(not s.is_open for s in rows)

    whole = selectors.discrepancy_overview(everything)
    for name, one, other in SPLITS:
        _, first = overview({name: one})
        _, second = overview({name: other})
        for figure in dataclasses.fields(whole):
            total = getattr(first, figure.name) + getattr(second, figure.name)
            assert total == getattr(whole, figure.name), (name, figure.name)


# --- the examples ----------------------------------------------------------------


def test_first_openings_are_kept_out_of_reported_and_counted(location, manager, make_register):
    """Amsterdam: opening floats of registers' first sessions (250.00 here) were inside
    Counted, so Counted − Reported did not give the Discrepancy."""
    till_1 = make_register(location, name="Kassa 1", code="k1", count_method="total")
    till_2 = make_register(location, name="Kassa 2", code="k2", count_method="total")
    for till, first_float, second_float in (
        (till_1, "150.00", "148.00"),
        (till_2, "100.00", "99.00"),
    ):
        first = services.open_session(
            register=till, opening_float=first_float, by=manager, at=_at(location, 0, 8)
        )
        services.close_session(
            session=first,
            counted=first_float,
            retained_float=first_float,
            by=manager,
            at=_at(location, 0, 18),
        )
        services.open_session(
            register=till, opening_float=second_float, by=manager, at=_at(location, 1, 8)
        )

    overview = selectors.discrepancy_overview(
        selectors.sessions_in_range([location], FIRST_DAY, FIRST_DAY + dt.timedelta(days=1))
    )

    assert (overview.start_reported, overview.start_counted) == (D("250.00"), D("247.00"))
    assert overview.start_discrepancy == D("-3.00")
    assert (overview.first_openings, overview.first_openings_float) == (2, D("250.00"))
    _reconciles(overview)


def test_a_shared_close_removes_the_subs_cash_once(location, manager, make_register):
    """Wien: Nebenkasse A 130.65 + Nebenkasse B 232.95 + Hauptkasse 702.00 were summed as
    1,065.60 cash removed, but 702.00 left the store: the main count holds the subs' cash."""
    haupt = make_register(location, name="Hauptkasse", code="h", role="main")
    neben = [
        make_register(
            location, name=f"Nebenkasse {n}", code=f"n{n}", role="sub", main_register=haupt
        )
        for n in "AB"
    ]
    at = lambda hour: _at(location, 0, hour)  # noqa: E731
    main_session = services.open_session(register=haupt, opening_float="0.00", by=manager, at=at(8))
    sub_sessions = [
        services.open_session(register=sub, opening_float="0.00", by=manager, at=at(9))
        for sub in neben
    ]
    for register, amount in ((neben[0], "130.65"), (neben[1], "232.95"), (haupt, "338.40")):
        services.record_transaction(
            register=register,
            kind="sale",
            payment_method="cash",
            amount=amount,
            occurred_at=at(12),
            received_at=at(12),
            by=manager,
        )
    for sub_session in sub_sessions:
        services.close_session(session=sub_session, by=manager, at=at(17))
    services.close_session(
        session=main_session,
        counts=[
            {"value": "500.00", "quantity": 1},
            {"value": "200.00", "quantity": 1},
            {"value": "2.00", "quantity": 1},
        ],
        retained_float="0.00",
        by=manager,
        at=at(18),
    )

    sessions = selectors.session_list(selectors.sessions_in_range([location], FIRST_DAY, FIRST_DAY))
    rows = {row[SESSION_COLUMNS.index("register")]: row for row in session_rows(sessions)}
    removed = {name: row[REMOVED].value for name, row in rows.items()}
    transferred = {name: row[TRANSFERRED].value for name, row in rows.items()}
    assert removed == {
        "Nebenkasse A": D("0.00"),
        "Nebenkasse B": D("0.00"),
        "Hauptkasse": D("702.00"),
    }
    assert sum(removed.values()) == D("702.00")
    assert transferred == {
        "Nebenkasse A": D("130.65"),
        "Nebenkasse B": D("232.95"),
        "Hauptkasse": D("0.00"),
    }
    overview = selectors.discrepancy_overview(
        selectors.sessions_in_range([location], FIRST_DAY, FIRST_DAY)
    )
    assert (overview.end_expected, overview.end_counted) == (D("702.00"), D("702.00"))
    _reconciles(overview)


def test_sessions_closed_without_a_count_are_on_their_own_line(location, manager, register):
    """The end block compares only counted sessions; the others show their expected cash
    on the "not counted" line, in neither end counted nor end expected."""
    first = services.open_session(
        register=register, opening_float="150.00", by=manager, at=_at(location, 0, 8)
    )
    services.close_session(
        session=first,
        counted="149.00",
        retained_float="100.00",
        by=manager,
        at=_at(location, 0, 12),
    )
    second = services.open_session(
        register=register, opening_float="100.00", by=manager, at=_at(location, 0, 13)
    )
    services.record_transaction(
        register=register,
        kind="sale",
        payment_method="cash",
        amount="25.00",
        occurred_at=_at(location, 0, 14),
        received_at=_at(location, 0, 14),
        by=manager,
    )
    services.close_session(
        session=second, retained_float="0.00", by=manager, at=_at(location, 0, 18)
    )

    overview = selectors.discrepancy_overview(
        selectors.sessions_in_range([location], FIRST_DAY, FIRST_DAY)
    )

    assert (overview.end_expected, overview.end_counted, overview.end_discrepancy) == (
        D("150.00"),
        D("149.00"),
        D("-1.00"),
    )
    assert (overview.not_counted_sessions, overview.not_counted_expected) == (1, D("125.00"))
    _reconciles(overview)
