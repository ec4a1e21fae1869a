"""The Now page: every register of every store the user manages, as it is now."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cashdrawer.models import Location, Membership
from sessions_app import services, views
from sessions_app.selectors import cash_today

NOW = reverse("operations:now")
UTC = dt.UTC


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _row(html: str, register) -> str:
    """The HTML of one register's row on the board."""
    start = html.rindex("<div", 0, html.index(f'id="now-register-{register.pk}"'))
    end = html.find('<div class="register-row', start + 1)
    return html[start : end if end != -1 else len(html)]


def _store(html: str, location) -> str:
    start = html.index(f'id="store-{location.pk}"')
    end = html.find('<section class="now-store"', start + 1)
    return html[start : end if end != -1 else len(html)]


def _closed(
    register,
    *,
    by,
    counted: str | None,
    opened: dt.datetime,
    float_="0.00",
    retained="0.00",
    cash_sale=None,
):
    session = services.open_session(register=register, opening_float=float_, by=by, at=opened)
    if cash_sale:
        at = opened + dt.timedelta(hours=1)
        services.record_transaction(
            register=register,
            kind="sale",
            payment_method="cash",
            amount=cash_sale,
            occurred_at=at,
            received_at=at,
            by=by,
        )
    return services.close_session(
        session=session,
        counted=counted,
        retained_float=retained,
        by=by,
        at=opened + dt.timedelta(hours=8),
    )


# --- who lands where, who sees what ---------------------------------------------------------


def test_a_manager_lands_on_now_an_accountant_on_the_overview_a_cashier_on_registers(
    manager, accountant, cashier
):
    assert _client(manager).get("/").url == NOW
    assert _client(accountant).get("/").url.startswith(reverse("reports:overview"))
    assert _client(cashier).get("/").url == reverse("operations:registers")


def test_now_is_the_first_item_of_the_top_bar_for_managers_only(manager, cashier, accountant):
    html = _client(manager).get(NOW).content.decode()
    nav = html[html.index('class="mainnav"') : html.index("</nav>")]
    assert nav.index(f'href="{NOW}"') < nav.index(reverse("reports:overview"))
    for user in (cashier, accountant):
        page = _client(user).get(reverse("operations:registers") if user == cashier else "/")
        page = _client(user).get(page.url) if page.status_code == 302 else page
        assert f'href="{NOW}"' not in page.content.decode()


@pytest.mark.parametrize("who", ["cashier", "accountant"])
def test_who_manages_no_store_is_refused(who, request):
    response = _client(request.getfixturevalue(who)).get(NOW)
    assert response.status_code == 403
    assert "for store managers" in response.content.decode()


def test_a_manager_sees_only_the_stores_they_manage(
    location, other_location, make_register, make_user, manager
):
    mine = make_register(location, name="Mine")
    theirs = make_register(other_location, name="Theirs")
    html = _client(manager).get(NOW).content.decode()
    assert f'id="now-register-{mine.pk}"' in html
    assert f'id="now-register-{theirs.pk}"' not in html
    assert "Vienna" not in html

    # Manager here, cashier there: only the managed store is listed.
    Membership.objects.create(user=manager, location=other_location, role="cashier")
    html = _client(manager).get(NOW).content.decode()
    assert f'id="now-register-{theirs.pk}"' not in html


def test_a_superuser_sees_every_store_grouped_by_store_in_name_order(
    location, other_location, make_register, make_user
):
    zurich = Location.objects.create(name="Zurich", currency="CHF", timezone="Europe/Zurich")
    for store in (zurich, other_location, location):
        make_register(store, name=f"Till {store.name}")
    admin = make_user("root", is_superuser=True, is_staff=True)
    html = _client(admin).get(NOW).content.decode()
    headings = re.findall(r'<h2 id="now-store-\d+">([^<]+)</h2>', html)
    assert headings == ["Amsterdam", "Vienna", "Zurich"]
    assert html.index("Till Zurich") > html.index(f'id="now-store-{zurich.pk}"')


# --- what a row shows ---------------------------------------------------------------------------


def test_an_open_register_shows_since_when_by_whom_and_its_expected_cash(
    location, register, manager
):
    opened = dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
    services.open_session(register=register, opening_float="150.00", by=manager, at=opened)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="45.50", by=manager
    )
    row = _row(_client(manager).get(NOW).content.decode(), register)
    assert "Open" in row
    assert "since 20/11/2026 09:00 by Maria" in row  # 08:00 UTC is 09:00 in Amsterdam
    assert "€195.50" in row
    assert "Expected cash so far" in row
    assert reverse("operations:adjust", args=[register.sessions.get().pk]) in row
    assert reverse("operations:close", args=[register.sessions.get().pk]) in row
    assert reverse("reports:session", args=[register.sessions.get().pk]) in row


def test_a_closed_register_shows_when_by_whom_and_its_discrepancy(location, register, manager):
    _closed(
        register,
        by=manager,
        counted="148.00",
        float_="150.00",
        opened=dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
    )
    row = _row(_client(manager).get(NOW).content.decode(), register)
    assert "Closed" in row
    assert "by Maria" in row
    assert re.search(r'class="discrepancy short"[^>]*>\s*−€2.00 short', row)
    assert reverse("operations:open", args=[register.pk]) in row


def test_a_close_without_a_count_says_not_counted(location, register, manager):
    _closed(register, by=manager, counted=None, opened=dt.datetime(2026, 11, 20, 8, tzinfo=UTC))
    assert "not counted" in _row(_client(manager).get(NOW).content.decode(), register)


def test_subs_are_listed_under_their_main_register_with_the_main_figure_worded(
    location, main_register, sub_a, make_register, manager
):
    standalone = make_register(location, name="A standalone")
    services.open_session(register=main_register, opening_float="0.00", by=manager)
    services.open_session(register=sub_a, opening_float="0.00", by=manager)
    html = _client(manager).get(NOW).content.decode()
    store = _store(html, location)
    assert store.index(f"now-register-{standalone.pk}") < store.index(
        f"now-register-{main_register.pk}"
    )
    assert store.index(f"now-register-{main_register.pk}") < store.index(f"now-register-{sub_a.pk}")
    assert "sub-row" in _row(html, sub_a)
    assert "Expected, own cash" in _row(html, main_register)


def test_a_manager_sees_the_expected_cash_of_a_blind_session_with_its_badge(
    location, make_register, manager
):
    blind = make_register(location, name="Blind", blind_close=True, count_method="total")
    services.open_session(register=blind, opening_float="100.00", by=manager)
    row = _row(_client(manager).get(NOW).content.decode(), blind)
    assert "blind close" in row
    assert "€100.00" in row


def test_the_board_hides_a_blind_sessions_expected_cash_from_whom_the_rule_hides_it(
    location, make_register, manager
):
    """The board's cards apply the registers page's rule (a cashier would not see it); the
    Now page lists only managed stores, so it never reaches a cashier, but the rule is one."""
    blind = make_register(location, name="Blind", blind_close=True, count_method="total")
    services.open_session(register=blind, opening_float="100.00", by=manager)
    [card] = views._register_cards([location], {location.pk: "cashier"}, now_figures=True)[
        location.pk
    ]
    assert card.blind
    [card] = views._register_cards([location], {location.pk: "manager"}, now_figures=True)[
        location.pk
    ]
    assert not card.blind


# --- today's cash sales -------------------------------------------------------------------------


def test_cash_sales_today_are_those_of_each_stores_own_local_day(
    location, new_york_location, make_register, make_user
):
    """At 23:30 UTC on 20 November it is already the 21st in Amsterdam (UTC+1) and still
    the 20th in New York (UTC-5): each store counts its own day, in one query."""
    boss = make_user("boss", is_superuser=True)
    now = dt.datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    amsterdam = make_register(location, name="AMS", count_method="total")
    new_york = make_register(new_york_location, name="NYC", count_method="total")

    def sale(register, at, amount, kind="sale", method="cash"):
        services.record_transaction(
            register=register,
            kind=kind,
            payment_method=method,
            amount=amount,
            occurred_at=at,
            received_at=at,
            by=boss,
        )

    sale(amsterdam, dt.datetime(2026, 11, 20, 22, 50, tzinfo=UTC), "7.00")  # 23:50 on the 20th
    sale(amsterdam, dt.datetime(2026, 11, 20, 23, 10, tzinfo=UTC), "10.00")  # 00:10 on the 21st
    sale(amsterdam, dt.datetime(2026, 11, 20, 23, 15, tzinfo=UTC), "2.50", kind="refund")
    sale(amsterdam, dt.datetime(2026, 11, 20, 23, 20, tzinfo=UTC), "99.00", method="card")
    sale(new_york, dt.datetime(2026, 11, 20, 4, 0, tzinfo=UTC), "5.00")  # 23:00 on the 19th
    sale(new_york, dt.datetime(2026, 11, 20, 6, 0, tzinfo=UTC), "20.00")  # 01:00 on the 20th

    with CaptureQueriesContext(connection) as queries:
        today = cash_today([location, new_york_location], now=now)
    assert len(queries) == 1
    assert (today[amsterdam.pk].sales, today[amsterdam.pk].refunds) == (
        Decimal("10.00"),
        Decimal("2.50"),
    )
    assert today[new_york.pk].sales == Decimal("20.00")


def test_the_page_shows_todays_cash_sales_per_register_and_per_store(
    location, register, make_register, manager, monkeypatch
):
    now = dt.datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    other = make_register(location, name="Other", count_method="total")
    for reg, amount in ((register, "10.00"), (register, "5.00"), (other, "1.25")):
        at = dt.datetime(2026, 11, 20, 23, 5, tzinfo=UTC)
        services.record_transaction(
            register=reg,
            kind="sale",
            payment_method="cash",
            amount=amount,
            occurred_at=at,
            received_at=at,
            by=manager,
        )
    yesterday = dt.datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    services.record_transaction(
        register=register,
        kind="sale",
        payment_method="cash",
        amount="100.00",
        occurred_at=yesterday,
        received_at=yesterday,
        by=manager,
    )
    monkeypatch.setattr(views, "timezone", SimpleNamespace(now=lambda: now))
    html = _client(manager).get(NOW).content.decode()
    assert re.search(r"data-cash-sales-today>€15.00<", _row(html, register))
    assert re.search(r"data-cash-sales-today>€1.25<", _row(html, other))
    assert re.search(r"data-store-cash-sales>€16.25<", _store(html, location))


# --- the sparkline ------------------------------------------------------------------------------


def test_the_sparkline_shows_the_last_three_total_discrepancies_oldest_first(
    location, register, manager
):
    start = dt.datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    for day, counted in enumerate(["75.00", "68.00", "70.00", "71.50"]):
        _closed(
            register,
            by=manager,
            counted=counted,
            float_="50.00",
            retained="50.00",
            cash_sale="20.00",
            opened=start + dt.timedelta(days=day),
        )
    row = _row(_client(manager).get(NOW).content.decode(), register)
    assert 'data-discrepancies="-2.00 0.00 1.50"' in row
    svg = row[row.index("<svg") : row.index("</svg>")]
    tones = re.findall(r'class="spark-bar (\w+)"', svg)
    assert tones == ["short", "even", "over"]
    assert "style=" not in svg


def test_sparkline_bars_scale_to_the_largest_and_sit_on_the_zero_line():
    line = views.sparkline([Decimal("-4.00"), Decimal("2.00")])
    short, over = line.bars
    assert short.y == line.middle and over.y + over.height == line.middle
    assert short.height == pytest.approx(2 * over.height)
    assert short.x > line.width / 3  # the first slot stays empty: the newest is last
    assert views.sparkline([]) is None


# --- no N+1 ---------------------------------------------------------------------------------------


def _a_busy_store(name: str, manager, make_register) -> Location:
    store = Location.objects.create(name=name, currency="EUR", timezone="Europe/Amsterdam")
    Membership.objects.create(user=manager, location=store, role="manager")
    main = make_register(store, name=f"{name} main", role="main")
    sub = make_register(store, name=f"{name} sub", role="sub", main_register=main)
    solo = make_register(store, name=f"{name} solo", count_method="total")
    _closed(solo, by=manager, counted="1.00", opened=dt.datetime(2026, 11, 1, 8, tzinfo=UTC))
    _closed(solo, by=manager, counted="0.00", opened=dt.datetime(2026, 11, 2, 8, tzinfo=UTC))
    services.open_session(register=main, opening_float="0.00", by=manager)
    services.open_session(register=sub, opening_float="0.00", by=manager)
    for register in (sub, solo):
        services.record_transaction(
            register=register, kind="sale", payment_method="cash", amount="3.00", by=manager
        )
    return store


def test_the_number_of_queries_does_not_grow_with_stores_or_registers(make_user, make_register):
    manager = make_user("multi")
    client = _client(manager)
    _a_busy_store("One", manager, make_register)
    client.get(NOW)  # warm up whatever is cached per process
    with CaptureQueriesContext(connection) as one:
        assert client.get(NOW).status_code == 200
    _a_busy_store("Two", manager, make_register)
    _a_busy_store("Three", manager, make_register)
    with CaptureQueriesContext(connection) as three:
        html = client.get(NOW).content.decode()
    assert html.count('<section class="now-store"') == 3
    assert len(three) == len(one), [q["sql"] for q in three.captured_queries]


# --- the refresh --------------------------------------------------------------------------------


def test_the_fragment_is_the_board_alone_and_says_so(location, register, manager):
    page = _client(manager).get(NOW)
    assert "data-now-board" in page.content.decode()
    assert 'data-refresh-seconds="30"' in page.content.decode()
    fragment = _client(manager).get(NOW, {"fragment": "1"}, headers={"X-Auto-Refresh": "1"})
    html = fragment.content.decode()
    assert fragment.status_code == 200
    assert fragment["X-Now-Board"] == "1"
    assert fragment["Cache-Control"] == "no-store"
    assert "<html" not in html and "topbar" not in html
    assert f'id="now-register-{register.pk}"' in html
    assert "Updated" in html


def test_the_fragment_shows_a_sale_posted_after_the_page_loaded(location, register, manager):
    client = _client(manager)
    services.open_session(register=register, opening_float="150.00", by=manager)
    assert "€150.00" in _row(client.get(NOW).content.decode(), register)
    services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="12.00", by=manager
    )
    row = _row(client.get(NOW, {"fragment": "1"}).content.decode(), register)
    assert "€162.00" in row
    assert re.search(r"data-cash-sales-today>€12.00<", row)


def _session_row(client: Client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_the_automatic_refresh_does_not_keep_the_login_alive(location, manager):
    client = _client(manager)
    stored = _session_row(client)
    # As if the login had been idle for an hour: only activity moves the end along.
    Session.objects.filter(pk=stored.pk).update(
        expire_date=stored.expire_date - dt.timedelta(hours=1)
    )
    before = _session_row(client).expire_date

    response = client.get(NOW, {"fragment": "1"}, headers={"X-Auto-Refresh": "1"})
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert _session_row(client).expire_date == before

    response = client.get(NOW)  # the person reloads: that is activity
    assert settings.SESSION_COOKIE_NAME in response.cookies
    assert _session_row(client).expire_date > before
    assert _session_row(client).expire_date > timezone.now() + dt.timedelta(
        seconds=settings.SESSION_COOKIE_AGE - 60
    )


# --- alerts on Now -----------------------------------------------------------------------------


def test_now_shows_the_unseen_alerts_and_mark_seen_leads_back_to_now(
    location, register, manager, cashier
):
    from alerts.models import Alert

    location.discrepancy_threshold = Decimal("10.00")
    location.save()
    opened = timezone.now() - dt.timedelta(hours=30)
    session = services.open_session(register=register, opening_float="0.00", by=cashier, at=opened)
    closed = services.close_session(
        session=session,
        counted="0.00",
        retained_float="0.00",
        by=manager,
        at=opened + dt.timedelta(hours=8),
    )
    assert not Alert.objects.filter(session=closed).exists()  # even: nothing to say
    # Left open for 17 hours: the page raises it, without a timer.
    overdue = services.open_session(
        register=register,
        opening_float="0.00",
        by=cashier,
        at=timezone.now() - dt.timedelta(hours=17),
    )
    client = _client(manager)
    html = client.get(NOW).content.decode()
    [alert] = Alert.objects.filter(session=overdue)
    assert alert.kind == "open_too_long"
    assert f'data-alert="{alert.pk}"' in html
    assert 'value="/now/"' in html  # "Mark seen" comes back here
    # The board's refresh carries the panel too, and still leads back to the page.
    fragment = client.get(NOW, {"fragment": "1"}).content.decode()
    assert f'data-alert="{alert.pk}"' in fragment and 'value="/now/"' in fragment

    response = client.post(reverse("alerts:mark_seen", args=[alert.pk]), {"next": "/now/"})
    assert response.status_code == 302 and response["Location"] == "/now/"
    assert f'data-alert="{alert.pk}"' not in client.get(NOW).content.decode()
