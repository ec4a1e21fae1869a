"""Run on a fresh SQLite database by tests/test_sqlite_trial.py (not collected by pytest).

SQLite keeps decimals as binary floats; this plays random cent amounts through the
services and checks that every close is accepted and every figure is exact.
"""

from __future__ import annotations

import os
import random
import sys
from decimal import Decimal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cashdrawer.settings")
django.setup()

from django.core.management import call_command  # noqa: E402

from cashdrawer.models import Location, Register  # noqa: E402
from reports import selectors as reports  # noqa: E402
from sessions_app import services  # noqa: E402
from sessions_app.filters import SessionFilter  # noqa: E402
from sessions_app.models import TrackingSession  # noqa: E402


def cents(rng: random.Random, low: int, high: int) -> str:
    return f"{Decimal(rng.randint(low, high)) / 100:.2f}"


def check_open_sessions_sort_as_the_latest_end(location: Location) -> None:
    """SQLite sorts NULL first going up, PostgreSQL last: the overview, sessions.csv
    (session_list) and the API (SessionFilter) must put an open session's empty end last
    going up and first going down on both."""
    register = Register.objects.create(
        location=location, name="Open", code="open", count_method="total"
    )
    still_open = services.open_session(register=register, opening_float="0", by=None)
    sessions = TrackingSession.objects.all()
    for ordering, position in (("closed_at", -1), ("-closed_at", 0)):
        rows = list(reports.session_list(sessions, ordering))
        assert rows[position].pk == still_open.pk, (ordering, rows[position].pk)
        api = list(SessionFilter({"ordering": ordering}, queryset=sessions).qs)
        assert api[position].pk == still_open.pk, ("api", ordering, api[position].pk)


def main() -> int:
    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    location = Location.objects.create(name="Trial", currency="EUR", timezone="Europe/Amsterdam")
    register = Register.objects.create(
        location=location, name="T", code="t", count_method="total", default_float="150.00"
    )
    posted = Decimal("0.00")
    for _ in range(40):
        session = services.open_session(register=register, opening_float="150.00", by=None)
        for _sale in range(rng.randint(1, 8)):
            amount = cents(rng, 1, 20000)
            posted += Decimal(amount)
            services.record_transaction(
                register=register, kind="sale", payment_method="cash", amount=amount
            )
        services.adjust_float(
            session=session, direction="out", amount=cents(rng, 1, 999), reason="bank", by=None
        )
        session.refresh_from_db()
        counted = session.current_expected_cash + Decimal(rng.choice(["0.00", "0.01", "-0.07"]))
        services.close_session(session=session, counted=str(max(counted, Decimal(0))), by=None)

    for session in TrackingSession.objects.all():
        for name in ("expected_cash", "counted_cash", "cash_sales", "cash_removed"):
            value = getattr(session, name)
            assert value == value.quantize(Decimal("0.01")), (name, value)
    overview = reports.cash_payments_overview(TrackingSession.objects.all())
    assert overview.gross == posted, (overview.gross, posted)
    assert str(overview.gross) == f"{posted:.2f}", overview.gross
    print("sqlite trial ok:", TrackingSession.objects.count(), "sessions")
    check_open_sessions_sort_as_the_latest_end(location)
    return 0


if __name__ == "__main__":
    sys.exit(main())
