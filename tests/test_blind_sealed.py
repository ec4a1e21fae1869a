"""A sealed blind close (issue 9, item 1; DOMAIN.md rule 7).

While a blind session is open, a cashier and a device token see no figure of its cash:
not the expected cash, nor any part of the sum it is made of (the opening float, each
cash sale and refund, each adjustment, each sub-register's transfer) nor any sum of such
parts, on any page, API answer, CSV file or error message they can reach. Managers and
accountants see everything; once the count is submitted the cashier does too.

The pages are every named URL of the URL confs: tests/pages_of_a_location.py turns each
into the URLs of a location's objects, and a URL pattern it neither visits nor excludes
must be visited here (EXTRA) or the first test fails.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from cashdrawer.authentication import issue_device_token, issue_user_token
from sessions_app import services
from sessions_app.api import BLIND_FIELDS, SessionSerializer
from sessions_app.models import TrackingSession
from tests import pages_of_a_location as pages

pytestmark = pytest.mark.django_db

D = Decimal

# The blind shift's cash, term by term: every sum of any of them is a figure the cashier
# must not see. Cents chosen so that no two sums agree and none is a figure shown anyway.
OPENING_FLOAT = D("1204.37")
CASH_SALES = [D("2019.18"), D("33.41")]
DEVICE_CASH_SALE = D("46.92")  # posted by the register's terminal with its device token
CASH_REFUND = D("7.29")
CASH_IN = D("61.53")
CASH_OUT = D("415.06")
SUB_CASH_SALE = D("127.84")  # a sub-register's, transferred to the main at its close
# Shown whatever happens: other payment methods, the previous session's figures.
CARD_SALE, CARD_REFUND, SUB_CARD_SALE = D("58.00"), D("3.00"), D("9.00")
PREVIOUS_FLOAT = D("300.00")

TERMS = [
    OPENING_FLOAT,
    *CASH_SALES,
    DEVICE_CASH_SALE,
    -CASH_REFUND,
    CASH_IN,
    -CASH_OUT,
    SUB_CASH_SALE,
]
EXPECTED_CASH = sum(TERMS, D("0"))
# Figures worked out from the cash that are not sums of the terms.
DERIVED = {
    "start discrepancy": OPENING_FLOAT - PREVIOUS_FLOAT,
    "total sales": sum(CASH_SALES, D("0")) + DEVICE_CASH_SALE + CARD_SALE,
    "total refunds": CASH_REFUND + CARD_REFUND,
    "sub's total sales": SUB_CASH_SALE + SUB_CARD_SALE,
}


def partial_sums() -> set[Decimal]:
    """Every sum of one or more terms (sign dropped: a page may show −415.06 as 415.06),
    and the derived figures."""
    sums = {
        abs(sum(chosen, D("0")))
        for size in range(1, len(TERMS) + 1)
        for chosen in itertools.combinations(TERMS, size)
    }
    return {value for value in sums | {abs(v) for v in DERIVED.values()} if value}


SECRETS = partial_sums()


def spellings(value: Decimal) -> set[str]:
    """The ways a page, an answer or a CSV file may write an amount: 1234.56, 1,234.56,
    1.234,56, 1 234,56 (with a space, a no-break or a narrow no-break space), 1'234.56."""
    whole, cents = f"{value:.2f}".split(".")
    groups = f"{int(whole):,}".split(",")
    found = {f"{whole}.{cents}", f"{whole},{cents}"}
    marks = [(",", "."), (".", ","), (" ", ","), ("\u00a0", ","), ("\u202f", ","), ("'", ".")]
    for separator, point in marks:
        found.add(separator.join(groups) + point + cents)
    return found


# An amount in any of those spellings, as a whole number: not part of a longer one (123.45
# in 1,123.45) nor of a date (27.11 in 27.11.2026).
AMOUNT = re.compile(r"(?<![\d.,'])\d{1,3}(?:[,. '\u00a0\u202f]?\d{3})*[.,]\d{2}(?![\d]|[.,]\d)")


def amounts_in(text: str) -> set[Decimal]:
    """Every amount written in `text`. Grouped by spaces, "12 234,56" may be 12 followed
    by 234,56: both are read."""
    found = set()
    for match in AMOUNT.finditer(text):
        parts = re.split(r"[ \u00a0\u202f]", match.group(0))
        for start in range(len(parts)):
            found.add(D(re.sub(r"\D", "", "".join(parts[start:]))) / 100)
    return found


def leaks(body: str) -> list[str]:
    """The secrets a body shows, in whatever spelling."""
    return sorted(f"{value:.2f}" for value in amounts_in(body) & SECRETS)


def test_the_secrets_are_distinct_from_what_is_shown_anyway():
    shown = {CARD_SALE, CARD_REFUND, SUB_CARD_SALE, PREVIOUS_FLOAT}
    assert not SECRETS & shown
    assert EXPECTED_CASH in SECRETS
    assert len(SECRETS) > 250


def test_every_spelling_of_a_secret_is_found():
    for value in (EXPECTED_CASH, CASH_REFUND, OPENING_FLOAT):
        for text in spellings(value):
            assert leaks(f"<td>€ {text}</td>") == [f"{value:.2f}"], text
            assert leaks(f"<td>€\u00a0{text}</td>") == [f"{value:.2f}"], text
            assert leaks(f'"amount": "-{text}"') == [f"{value:.2f}"], text
    assert leaks("1,003.41 on 27.11.2026 at 12:34") == []  # 33.41 and 27.11 are not there


# --- the shift ---------------------------------------------------------------------------


@pytest.fixture
def shift(location, make_register, manager, cashier, accountant):
    """A blind main register with a sub-register, its previous close, and a blind shift in
    progress: opened by the cashier, sales by the cashier and the terminal, adjustments, a
    refund, and the sub-register closed (its cash transferred to the main's count)."""
    main = make_register(location, name="Till", code="till", role="main", blind_close=True)
    sub = make_register(location, name="Side", code="side", role="sub", main_register=main)
    previous = services.open_session(register=main, opening_float=PREVIOUS_FLOAT, by=manager)
    services.close_session(
        session=previous, counts=[(D("100.00"), 3)], retained_float=PREVIOUS_FLOAT, by=manager
    )

    session = services.open_session(register=main, opening_float=OPENING_FLOAT, by=cashier)
    assert session.blind_close is True
    for amount in CASH_SALES:
        services.record_transaction(
            register=main, kind="sale", payment_method="cash", amount=amount, by=cashier
        )
    services.record_transaction(
        register=main, kind="sale", payment_method="card", amount=CARD_SALE, by=cashier
    )
    services.record_transaction(
        register=main, kind="refund", payment_method="cash", amount=CASH_REFUND, by=cashier
    )
    services.record_transaction(
        register=main, kind="refund", payment_method="card", amount=CARD_REFUND, by=cashier
    )
    services.adjust_float(
        session=session, direction="in", amount=CASH_IN, reason="change", by=cashier
    )
    services.adjust_float(
        session=session, direction="out", amount=CASH_OUT, reason="to the bank", by=manager
    )
    sub_session = services.open_session(register=sub, opening_float="0", by=cashier)
    services.record_transaction(
        register=sub, kind="sale", payment_method="cash", amount=SUB_CASH_SALE, by=cashier
    )
    services.record_transaction(
        register=sub, kind="sale", payment_method="card", amount=SUB_CARD_SALE, by=cashier
    )
    services.close_session(session=sub_session, by=cashier)

    device = _api(issue_device_token(register=main, by=manager).secret)
    posted = device.post(
        "/api/v1/transactions/",
        {"register": main.pk, "kind": "sale", "payment_method": "cash",
         "amount": str(DEVICE_CASH_SALE), "external_id": "pos-1"},
        format="json",
    )  # fmt: skip
    assert posted.status_code == 201, posted.content
    # Not even the terminal's own sale comes back: a repeat of an external_id would
    # otherwise tell the amount of a sale someone else rang up.
    assert posted.json()["amount"] is None

    session.refresh_from_db()
    assert session.current_expected_cash == EXPECTED_CASH
    return {
        "location": location,
        "main": main,
        "sub": sub,
        "session": session,
        "sub_session": sub_session,
        "device": device,
    }


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


# Named URLs that tests/pages_of_a_location.py does not visit (yet): how to visit them.
def _each_session(name: str):
    return lambda o: (reverse(name, args=[s.pk]) for s in o.sessions)


def _csv(name: str):
    return lambda o: (url for url, _who in pages._csv(name, all_locations=True)(o))


EXTRA = {
    "reports:slip": _each_session("reports:slip"),
    "session-corrections": _each_session("session-corrections"),
    "report-corrections-csv": _csv("report-corrections-csv"),
}


def every_url(location, device_register) -> Iterator[str]:
    """Every URL of the location's objects (tests/pages_of_a_location.py) and EXTRA."""
    o = pages.objects_of(location, device_register=device_register)
    seen = set()
    for visit in pages.visits(o):
        if visit.url not in seen:
            seen.add(visit.url)
            yield visit.url
    for name, urls in EXTRA.items():
        if name in pages.url_names():
            yield from urls(o)
    yield reverse("operations:registers")  # the location the cashier works at


def test_every_named_url_is_visited_here():
    """A new page or endpoint is requested by the sealed test below, or the test says so."""
    missing = pages.unaccounted() - set(EXTRA)
    assert missing == set(), "add these to tests/pages_of_a_location.py or to EXTRA"


def test_a_cashier_and_a_terminal_see_no_figure_of_a_blind_shifts_cash(
    shift, cashier, manager, accountant
):
    location = shift["location"]
    readers = {
        "cashier (browser)": _browser(cashier),
        "cashier (token)": _api(issue_user_token(user=cashier).secret),
        "device": shift["device"],
    }
    urls = list(every_url(location, shift["main"]))
    assert len(urls) > 40
    requested = 0
    for url in urls:
        for who, client in readers.items():
            # Pages in English and German (1,234.56 and 1.234,56); the API's are the same
            # in every language.
            for language in ("en", "de") if who == "cashier (browser)" else ("en",):
                response = client.get(url, follow=True, HTTP_ACCEPT_LANGUAGE=language)
                assert response.status_code < 500, (who, url)
                found = leaks(_body(response))
                assert not found, f"{who} reads {found} at {url} ({language})"
                requested += 1
    assert requested == len(urls) * (len(readers) + 1)

    # What they may do with the session's figures unseen, and how a refusal reads.
    browser = readers["cashier (browser)"]
    session = shift["session"]
    refused = browser.post(
        reverse("operations:close", args=[session.pk]),
        {"not_counted": "on", "retained_float": "99999.00"},
    )
    assert refused.status_code == 400 and not leaks(refused.content.decode())
    for api in (readers["cashier (token)"], readers["device"]):
        refused = api.post(
            f"/api/v1/sessions/{session.pk}/close/", {"retained_float": "99999.00"}, format="json"
        )
        assert refused.status_code == 400 and not leaks(refused.content.decode())
        taken = api.post(
            f"/api/v1/sessions/{session.pk}/adjustments/",
            {"direction": "out", "amount": "0.01", "reason": "probe"},
            format="json",
        )
        assert taken.status_code == 201 and not leaks(taken.content.decode())

    # Managers and accountants see every figure.
    expected = f"{EXPECTED_CASH - D('0.02'):.2f}"  # less the two probes just taken out
    page = _browser(manager).get(reverse("reports:session", args=[session.pk]))
    assert leaks(page.content.decode())
    for reader in (manager, accountant):
        api = _api(issue_user_token(user=reader).secret)
        assert api.get(f"/api/v1/sessions/{session.pk}/").json()["expected_cash"] == expected
        amounts = [
            row["amount"]
            for row in api.get(f"/api/v1/transactions/?session={session.pk}").json()["results"]
        ]
        assert f"{CASH_SALES[0]:.2f}" in amounts

    # The count submitted, the cashier sees the result.
    closed = readers["cashier (token)"].post(
        f"/api/v1/sessions/{session.pk}/close/",
        {"counts": [{"value": "500.00", "quantity": 6}], "retained_float": "0"},
        format="json",
    )
    assert closed.status_code == 200, closed.content
    assert closed.json()["expected_cash"] == expected
    assert closed.json()["opening_float"] == f"{OPENING_FLOAT:.2f}"
    page = browser.get(reverse("reports:session", args=[session.pk])).content.decode()
    assert "3,000.00" in page and f"{EXPECTED_CASH - D('0.02'):,.2f}" in page
    for who in ("cashier (token)", "device"):
        listed = readers[who].get(f"/api/v1/transactions/?session={session.pk}").json()
        assert f"{CASH_SALES[0]:.2f}" in [row["amount"] for row in listed["results"]]
        sub = readers[who].get(f"/api/v1/sessions/{shift['sub_session'].pk}/")
        if who == "cashier (token)":
            assert sub.json()["expected_cash"] == f"{SUB_CASH_SALE:.2f}"


def test_what_a_cashier_and_a_terminal_read_of_a_blind_session(shift, cashier):
    session = shift["session"]
    for api in (_api(issue_user_token(user=cashier).secret), shift["device"]):
        data = api.get(f"/api/v1/sessions/{session.pk}/").json()
        for name in BLIND_FIELDS:
            assert data[name] is None, name
        assert data["status"] == "open" and len(data["adjustments"]) == 2
        assert {row["amount"] for row in data["adjustments"]} == {None}
        rows = api.get(f"/api/v1/transactions/?session={session.pk}").json()["results"]
        # Cash amounts are null; a card payment's amount tells nothing of the drawer.
        assert {(row["payment_method"], row["amount"]) for row in rows} == {
            ("cash", None),
            ("card", f"{CARD_SALE:.2f}"),
            ("card", f"{CARD_REFUND:.2f}"),
        }
        one = next(row for row in rows if row["payment_method"] == "cash")
        assert api.get(f"/api/v1/transactions/{one['id']}/").json()["amount"] is None


def test_every_money_figure_of_a_session_may_be_null():
    """Blind close makes each money figure of a session null (BLIND_FIELDS): a figure added
    to SessionSerializer must say so in the schema (allow_null), else the schema lies."""
    fields = SessionSerializer().fields
    assert {"opening_float", "expected_cash", "cash_sales", "counts"} <= set(BLIND_FIELDS)
    for name in set(BLIND_FIELDS) - {"sales_by_method", "counts"}:  # nullable in the schema
        assert fields[name].allow_null, name


def test_switching_the_registers_setting_changes_only_the_next_session(
    location, make_register, manager, cashier
):
    register = make_register(
        location, name="Blind", code="blind", count_method="total", blind_close=True
    )
    api = _api(issue_user_token(user=cashier).secret)
    browser = _browser(cashier)

    def cashier_sees(session: TrackingSession) -> bool:
        data = api.get(f"/api/v1/sessions/{session.pk}/").json()
        page = browser.get(reverse("reports:session", args=[session.pk])).content.decode()
        assert ("22.81" in page) is (data["expected_cash"] is not None)
        return data["expected_cash"] is not None

    blind = services.open_session(register=register, opening_float="22.81", by=cashier)
    register.blind_close = False
    register.save()
    assert blind.__class__.objects.get(pk=blind.pk).blind_close is True
    assert not cashier_sees(blind)
    registers_page = browser.get(reverse("operations:registers")).content.decode()
    assert "blind close" in registers_page and "22.81" not in registers_page
    services.close_session(session=blind, counted="22.81", retained_float="22.81", by=cashier)
    assert cashier_sees(blind)

    seen = services.open_session(register=register, opening_float="22.81", by=cashier)
    assert seen.blind_close is False and cashier_sees(seen)
    register.blind_close = True
    register.save()
    assert cashier_sees(seen)
    registers_page = browser.get(reverse("operations:registers")).content.decode()
    assert "22.81" in registers_page  # the open session's expected cash: not blind
    services.close_session(session=seen, counted="22.81", retained_float="22.81", by=cashier)

    again = services.open_session(register=register, opening_float="22.81", by=cashier)
    assert again.blind_close is True and not cashier_sees(again)
