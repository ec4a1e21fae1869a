"""The closing slip (Z-report, issue 9 item 8): what it prints and who may print it.

The figures of tests/slip_scenarios.py, checked on the HTML the browser prints; the PDF
itself is read back in tests/browser/test_slip_browser.py.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from cashdrawer.authentication import issue_device_token
from sessions_app import services
from sessions_app.models import TrackingSession
from tests import slip_scenarios as scenarios

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _denominations(shipped_denominations):
    """Counts by denomination need the shipped coins and notes."""


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _slip(user, session, **params):
    return _client(user).get(reverse("reports:slip", args=[session.pk]), params)


def _text(response) -> str:
    """The slip's words and figures as a reader sees them: tags dropped, spaces folded."""
    html = response.content.decode()
    body = html[html.index("<article") :]
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", body))).replace("\xa0", " ")


def _line(text: str, label: str) -> str:
    """The figure printed right after `label`."""
    match = re.search(re.escape(label) + r" (\S+)", text)
    assert match, f"{label!r} is not on the slip"
    return match.group(1)


# --- what it prints -------------------------------------------------------------------


def test_the_slip_of_a_normal_close_prints_every_figure(register, manager):
    session = scenarios.worked_example(register, manager)

    response = _slip(manager, session)

    assert response.status_code == 200
    text = _text(response)
    assert "Amsterdam" in text and "Closing slip" in text and "Z-report" in text
    assert f"Session #{session.pk}" in text
    assert "Opened 15/01/2026 09:00 Maria" in text
    assert "Closed 15/01/2026 18:00 Maria" in text
    assert "Count as a total" in text
    assert _line(text, "Previous closing float") == "none"
    assert _line(text, "Opening float") == "€150.00"
    assert _line(text, "Start discrepancy") == "€0.00"
    # Sales by method: cash first, refunds beside the sales, never deducted.
    assert re.search(r"Cash €65\.50 €5\.50 Card €80\.00 €0\.00 Total €145\.50 €5\.50", text)
    # Cash in and out: each adjustment, signed, and the totals.
    assert re.search(r"drawer over limit · Maria −€10\.00", text)
    assert re.search(r"own money for change · Maria \+€2\.00", text)
    assert _line(text, "Cash put in") == "€2.00"
    assert _line(text, "Cash taken out") == "€10.00"
    # The drawer, to the expected cash.
    assert "+ Cash sales (2) €65.50" in text
    assert "− Cash refunds (1) €5.50" in text
    assert "= Expected cash €202.00" in text
    # The close.
    assert "Counted as a total, not by denominations." in text
    assert _line(text, "Counted cash") == "€200.00"
    assert _line(text, "End discrepancy") == "−€2.00"
    assert _line(text, "Total discrepancy") == "−€2.00"
    assert _line(text, "Retained float") == "€150.00"
    assert _line(text, "Cash removed") == "€50.00"
    assert "No corrections." in text
    # Its place in the register's numbered, hash-chained closes (rule 6).
    assert _line(text, "Closing no.") == "1"
    assert f"Closing hash {session.closing_hash[:12]}…" in text
    assert session.closing_hash not in text
    # Lines to sign.
    for words in ("Counted by", "Checked by", "Name", "Date", "Signature"):
        assert words in text
    assert "Printed" in text


def test_the_slip_of_a_count_by_denominations_lists_each_denomination(counted_register, manager):
    session = scenarios.counted_close(counted_register, manager)

    text = _text(_slip(manager, session))

    assert "€50.00 × 2 €100.00" in text
    assert "€20.00 × 1 €20.00" in text
    assert "€0.50 × 3 €1.50" in text
    assert re.search(r"Count by denomination .* Total €121\.50", text)
    assert _line(text, "Expected cash") == "€125.00"
    assert _line(text, "Counted cash") == "€121.50"
    assert _line(text, "End discrepancy") == "−€3.50"
    assert _line(text, "Cash removed") == "€21.50"
    assert "Two coins of 0.50 stuck in the tray" in text


def test_the_slip_of_a_shared_close_has_a_block_per_sub_register(
    main_register, sub_a, sub_b, manager
):
    shared = scenarios.shared_close(main_register, sub_a, sub_b, manager)

    text = _text(_slip(manager, shared.main))

    assert "main register · with 2 sub-registers" in text
    assert "+ From sub-registers €412.00" in text
    assert "= Expected cash €512.00" in text
    assert "own €100.00 + sub-registers €412.00" in text
    assert "€500.00 × 1 €500.00" in text and "€0.50 × 1 €0.50" in text
    assert _line(text, "Counted cash") == "€512.50"
    assert _line(text, "End discrepancy") == "+€0.50"
    assert _line(text, "Cash removed") == "€512.50"
    assert "Sub-registers €412.00 transferred" in text
    block_a = text[text.index("Sub A Closing no.") : text.index("Sub B Closing no.")]
    block_b = text[text.index("Sub B Closing no.") : text.index("Counted by")]
    assert f"Session #{shared.sub_a.pk}" in block_a
    assert _line(block_a, "Opening float") == "€20.00"
    assert "Method Sales Refunds Cash €100.00 €10.00 Card €50.00 €0.00" in block_a
    assert _line(block_a, "Cash put in") == "€5.00"
    assert _line(block_a, "Cash taken out") == "€3.00"
    assert _line(block_a, "Transferred to main") == "€112.00"
    assert _line(block_b, "Transferred to main") == "€300.00"
    for sub, block in ((shared.sub_a, block_a), (shared.sub_b, block_b)):
        assert f"Closing no. {sub.closing_number} · Session #{sub.pk}" in block
        assert f"Closing hash {sub.closing_hash[:12]}…" in block
    assert f"Closing hash {shared.main.closing_hash[:12]}…" in text
    assert "Card" not in block_b[: block_b.index("Transferred to main")]


def test_the_slip_of_a_sub_session_shows_what_it_handed_to_the_main(
    main_register, sub_a, sub_b, manager
):
    shared = scenarios.shared_close(main_register, sub_a, sub_b, manager)

    text = _text(_slip(manager, shared.sub_a))

    assert "sub-register of Main C" in text
    assert f"counted at Main C (session #{shared.main.pk})" in text
    assert _line(text, "Expected cash") == "€112.00"
    assert _line(text, "Transferred to main") == "€112.00"
    assert _line(text, "Retained float") == "€0.00"
    assert _line(text, "Cash removed") == "€0.00"  # the main register removes it
    assert "Counted cash" not in text


def test_the_slip_shows_the_corrections_and_the_discrepancy_after_them(register, manager):
    session = scenarios.worked_example(register, manager)
    services.add_correction(
        session=session, amount="-2.00", reason="coin under the drawer", by=manager
    )
    services.add_correction(session=session, amount="0.50", reason="count typed twice", by=manager)

    text = _text(_slip(manager, session))

    assert re.search(r"No\. 1 · \S+ \S+ coin under the drawer · Maria −€2\.00", text)
    assert re.search(r"No\. 2 · \S+ \S+ count typed twice · Maria \+€0\.50", text)
    assert _line(text, "Total discrepancy") == "−€2.00"  # the session's own, as closed
    assert _line(text, "Total discrepancy after corrections") == "−€3.50"


def test_the_paper_is_a4_unless_a_receipt_is_asked_for(register, manager):
    session = scenarios.worked_example(register, manager)

    def body_class(**params) -> str:
        html = _slip(manager, session, **params).content.decode()
        return re.search(r'<body class="([^"]*)"', html).group(1)

    assert "paper-a4" in body_class()
    assert "paper-80mm" in body_class(paper="80mm")
    assert "paper-a4" in body_class(paper="letter")


def test_the_slip_has_no_inline_script_or_style(main_register, sub_a, sub_b, manager):
    """A Content-Security-Policy without 'unsafe-inline' is coming: everything is static."""
    shared = scenarios.shared_close(main_register, sub_a, sub_b, manager)
    html = _slip(manager, shared.main).content.decode()

    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/js/slip.js" defer>']
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r" on[a-z]+=", html) is None


# --- the Print button -----------------------------------------------------------------


def test_a_closed_session_page_has_a_print_button_to_its_slip(register, manager):
    session = scenarios.worked_example(register, manager)

    html = _client(manager).get(reverse("reports:session", args=[session.pk])).content.decode()

    assert f'href="{reverse("reports:slip", args=[session.pk])}?print=1"' in html


def test_an_open_session_has_no_slip_and_says_why(register, manager):
    session = services.open_session(register=register, opening_float="150.00", by=manager)

    page = _client(manager).get(reverse("reports:session", args=[session.pk])).content.decode()
    slip = _slip(manager, session)

    assert reverse("reports:slip", args=[session.pk]) not in page
    assert slip.status_code == 404
    assert "still open" in slip.content.decode()
    assert reverse("reports:session", args=[session.pk]) in slip.content.decode()


# --- who may print it -----------------------------------------------------------------


def test_someone_who_cannot_see_the_session_gets_404(register, manager, make_user, other_location):
    session = scenarios.worked_example(register, manager)
    stranger = make_user("otto", location=other_location, role="manager")

    assert _slip(stranger, session).status_code == 404
    assert _client(stranger).get(reverse("reports:session", args=[session.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(register, manager):
    session = scenarios.worked_example(register, manager)

    response = Client().get(reverse("reports:slip", args=[session.pk]))

    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_cashiers_and_accountants_of_the_location_print_it(register, manager, cashier, accountant):
    session = scenarios.worked_example(register, manager)

    for user in (cashier, accountant):
        assert _slip(user, session).status_code == 200


def test_a_cashier_gets_a_subs_slip_only_once_its_blind_main_is_counted(
    main_register, sub_a, manager, cashier
):
    main_register.blind_close = True
    main_register.save()
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="5.00", by=cashier)
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="cash", amount="7.00", by=cashier
    )
    services.close_session(session=sub, by=cashier)

    blind = _slip(cashier, sub)
    page = _client(cashier).get(reverse("reports:session", args=[sub.pk])).content.decode()

    assert blind.status_code == 404
    assert "€12.00" not in blind.content.decode()
    assert reverse("reports:slip", args=[sub.pk]) not in page
    assert _slip(manager, sub).status_code == 200

    services.close_session(session=main, counts=[("10.00", 1), ("2.00", 1)], by=cashier)
    assert _slip(cashier, sub).status_code == 200


def test_the_slip_names_the_device_that_did_it_not_the_manager_who_issued_its_token(
    register, manager
):
    terminal = issue_device_token(register=register, by=manager, name="Till 1 terminal").token
    location = register.location
    # The terminal's first sale opens the session (rule 2), so it opened it.
    scenarios.sale(register, "12.00", scenarios.at(location, 9), by=terminal)
    session = TrackingSession.objects.get(register=register)
    services.adjust_float(
        session=session,
        direction="out",
        amount="2.00",
        reason="change for the bakery",
        by=terminal,
        at=scenarios.at(location, 10),
    )
    session = services.close_session(
        session=session, counted="10.00", by=terminal, at=scenarios.at(location, 17)
    )

    text = _text(_slip(manager, session))

    assert re.search(r"Opened \S+ 09:00 Till 1 terminal · opened automatically", text)
    assert re.search(r"Closed \S+ 17:00 Till 1 terminal", text)
    assert "change for the bakery · Till 1 terminal −€2.00" in text
    assert "Maria" not in text.replace("by Maria", "")  # only as the one who printed it


def test_a_blind_close_is_on_the_slip_as_the_session_opened(register, manager):
    register.blind_close = True
    register.save()
    blind = scenarios.worked_example(register, manager)
    # The register's setting changes later; the session keeps what it opened with.
    register.blind_close = False
    register.save()

    assert "as a total blind close · amounts in EUR" in _text(_slip(manager, blind))
