"""Register operations in the browser: open, adjust, count and close, shared closing.

Each test posts to the page as a person would, checks the answer, then reloads from the
database. The rules themselves are tested against the services; these tests prove the
pages hand the services the right input and show their answers where a person looks.
"""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from django.test import Client
from django.urls import reverse

from sessions_app import services
from sessions_app.models import Adjustment, ClosingTransfer, CountLine, TrackingSession

# --- helpers ---------------------------------------------------------------------------


def _sale(register, amount, *, method="cash", kind="sale"):
    services.record_transaction(
        register=register, kind=kind, payment_method=method, amount=amount, by=None
    )


def _fresh(session) -> TrackingSession:
    return TrackingSession.objects.get(pk=session.pk)


def _open_url(register) -> str:
    return reverse("operations:open", args=[register.pk])


def _adjust_url(session) -> str:
    return reverse("operations:adjust", args=[session.pk])


def _close_url(session) -> str:
    return reverse("operations:close", args=[session.pk])


def _open_session_of(register) -> TrackingSession:
    return TrackingSession.objects.get(register=register, status="open")


@pytest.fixture
def as_manager(client, manager) -> Client:
    client.force_login(manager)
    return client


@pytest.fixture
def as_cashier(client, cashier) -> Client:
    client.force_login(cashier)
    return client


@pytest.fixture
def worked_session(register, manager) -> TrackingSession:
    """DOMAIN.md's worked example up to the close: expected cash 202.00."""
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    _sale(register, "45.50")
    _sale(register, "20.00")
    _sale(register, "5.50", kind="refund")
    _sale(register, "80.00", method="card")
    services.adjust_float(
        session=session, direction="out", amount="10.00", reason="drawer over limit", by=manager
    )
    services.adjust_float(
        session=session, direction="in", amount="2.00", reason="own money for change", by=manager
    )
    return _fresh(session)


@pytest.fixture
def counted_session(counted_register, manager) -> TrackingSession:
    """A register counted by denominations: 100.00 float + 45.50 cash = 145.50 expected."""
    session = services.open_session(register=counted_register, opening_float="100.00", by=manager)
    _sale(counted_register, "45.50")
    return _fresh(session)


# --- the registers page ------------------------------------------------------------------


def test_the_registers_page_shows_each_register_and_its_state(
    as_manager, location, register, main_register, sub_a, manager
):
    services.open_session(register=main_register, opening_float="80.00", by=manager)
    _sale(main_register, "12.35")

    response = as_manager.get(reverse("operations:registers"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Main C" in html and "Sub A" in html and 'register-name">R</h2>' in html
    assert "sub of Main C" in html
    assert "€92.35" in html  # expected cash so far of the open main register
    assert _open_url(register) in html  # closed: it can be opened
    session = _open_session_of(main_register)
    assert _close_url(session) in html and _adjust_url(session) in html
    # Subs are listed right under their main register.
    assert html.index("Main C") < html.index("Sub A")


def test_a_register_without_cash_tracking_says_so_and_offers_no_session(
    as_manager, location, make_register
):
    untracked = make_register(location, name="Kiosk", code="kiosk", cash_tracking=False)

    html = as_manager.get(reverse("operations:registers")).content.decode()

    assert "Cash tracking off" in html
    assert _open_url(untracked) not in html


def test_a_location_without_registers_says_what_to_do(as_manager, location):
    response = as_manager.get(reverse("operations:registers"))

    assert response.status_code == 200
    assert b"No registers here yet" in response.content
    assert b"admin" in response.content


# --- opening -----------------------------------------------------------------------------


def test_opening_with_a_total_stores_the_opening_float(as_manager, register):
    response = as_manager.post(
        _open_url(register), {"method": "total", "opening_float": "150.00", "note": "early"}
    )

    assert response.status_code == 302
    assert response.url == f"{reverse('operations:registers')}?location={register.location_id}"
    session = _open_session_of(register)
    assert session.opening_float == D("150.00")
    assert session.opening_note == "early"
    assert not session.counts.exists()


def test_opening_by_denominations_stores_the_count(as_manager, counted_register):
    response = as_manager.post(
        _open_url(counted_register),
        {"count_50.00": "2", "count_20.00": "1", "count_0.50": "3", "count_1.00": ""},
    )

    assert response.status_code == 302
    session = _open_session_of(counted_register)
    assert session.opening_float == D("121.50")
    lines = {(line.value, line.quantity) for line in session.counts.filter(stage="opening")}
    assert lines == {(D("50.00"), 2), (D("20.00"), 1), (D("0.50"), 3)}


def test_a_register_counting_by_denominations_is_offered_only_the_grid(
    as_manager, counted_register, register
):
    grid_only = as_manager.get(_open_url(counted_register)).content.decode()
    both = as_manager.get(_open_url(register)).content.decode()

    assert 'name="count_50.00"' in grid_only and 'name="opening_float"' not in grid_only
    assert 'name="count_50.00"' in both and 'name="opening_float"' in both


def test_the_typed_opening_float_is_marked_for_the_live_summary(as_manager, register):
    html = as_manager.get(_open_url(register)).content.decode()

    # count.js follows the input marked data-counted-input (tests/browser check it runs).
    assert re.search(r'<input[^>]*name="opening_float"[^>]*data-counted-input', html) or re.search(
        r'<input[^>]*data-counted-input[^>]*name="opening_float"', html
    )


def test_the_open_form_is_prefilled_with_the_previous_closing_float(as_manager, register, manager):
    first = as_manager.get(_open_url(register)).content.decode()
    assert 'value="150.00"' in first  # the first session: the register's default float

    session = services.open_session(register=register, opening_float="150.00", by=manager)
    services.close_session(session=session, counted="300.00", retained_float="120.00", by=manager)

    response = as_manager.get(_open_url(register))
    html = response.content.decode()
    assert 'name="opening_float"' in html
    assert 'value="120.00"' in html
    assert "€120.00" in html  # named as the previous closing float
    # The grid is pre-filled with the same amount, as notes and coins.
    assert 'name="count_20.00" value="6"' in html


def test_a_sub_register_cannot_open_before_its_main(as_manager, sub_a, db_rows):
    before = db_rows()

    page = as_manager.get(_open_url(sub_a))
    assert b"Main C is not open yet" in page.content

    response = as_manager.post(_open_url(sub_a), {"count_5.00": "2"})

    assert response.status_code == 409
    assert b"form-error" in response.content
    assert b"Open the main register&#x27;s session first" in response.content
    assert db_rows() == before


# --- adjusting ---------------------------------------------------------------------------


def test_adjustments_in_and_out_are_recorded(as_manager, worked_session, manager):
    into = as_manager.post(
        _adjust_url(worked_session),
        {"direction": "in", "amount": "5.00", "reason": "change from the bank"},
    )
    out = as_manager.post(
        _adjust_url(worked_session),
        {"direction": "out", "amount": "20.00", "reason": "to the safe"},
    )

    assert into.status_code == 302 and out.status_code == 302
    session = _fresh(worked_session)
    assert session.adjustments_in == D("7.00")
    assert session.adjustments_out == D("30.00")
    latest = Adjustment.objects.filter(session=session).order_by("-id").first()
    assert (latest.direction, latest.reason, latest.created_by) == ("out", "to the safe", manager)
    assert session.current_expected_cash == D("187.00")


def test_an_adjustment_needs_a_reason(as_manager, worked_session, db_rows):
    before = db_rows()

    response = as_manager.post(
        _adjust_url(worked_session), {"direction": "in", "amount": "5.00", "reason": ""}
    )

    assert response.status_code == 400
    assert b"field-error" in response.content
    assert db_rows() == before


def test_an_adjustment_of_a_closed_session_is_refused(as_manager, worked_session, manager):
    services.close_session(session=worked_session, counted="202.00", by=manager)
    before = _fresh(worked_session).adjustments_in

    response = as_manager.post(
        _adjust_url(worked_session), {"direction": "in", "amount": "5.00", "reason": "late"}
    )

    assert response.status_code == 409
    assert b"This session is closed" in response.content
    assert _fresh(worked_session).adjustments_in == before


def test_german_amounts_are_read_with_a_decimal_comma(client, manager, worked_session):
    client.force_login(manager)

    response = client.post(
        _adjust_url(worked_session),
        {"direction": "in", "amount": "12,50", "reason": "Wechselgeld"},
        HTTP_ACCEPT_LANGUAGE="de",
    )

    assert response.status_code == 302
    assert _fresh(worked_session).adjustments_in == D("14.50")


def test_a_decimal_comma_in_english_is_refused_not_read_as_a_hundred_times_more(
    client, manager, worked_session
):
    client.force_login(manager)
    before = _fresh(worked_session).adjustments_in

    response = client.post(
        _adjust_url(worked_session),
        {"direction": "in", "amount": "12,50", "reason": "Change"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert b"is not a number" in response.content
    assert _fresh(worked_session).adjustments_in == before


@pytest.mark.parametrize("asked", ["\u00b2", "\u0663", "1\u00b9"])
def test_a_location_that_only_looks_like_a_number_is_no_error(client, cashier, asked):
    client.force_login(cashier)
    response = client.get(reverse("operations:registers"), {"location": asked})
    assert response.status_code in (200, 404)


# --- counting and closing ----------------------------------------------------------------


def test_closing_by_denominations_stores_the_figures(as_manager, counted_session):
    response = as_manager.post(
        _close_url(counted_session),
        {
            "count_100.00": "1",
            "count_20.00": "2",
            "count_5.00": "1",
            "retained_float": "100.00",
            "note": "all fine",
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("reports:session", args=[counted_session.pk])
    session = _fresh(counted_session)
    assert session.status == "closed"
    assert session.counted_cash == D("145.00")
    assert session.expected_cash == D("145.50")
    assert session.end_discrepancy == D("-0.50")
    assert session.retained_float == D("100.00")
    assert session.cash_removed == D("45.00")
    assert session.closing_note == "all fine"
    assert CountLine.objects.filter(session=session, stage="closing").count() == 3
    # The success message states the discrepancy.
    page = as_manager.get(reverse("operations:registers")).content.decode()
    assert "€0.50 short" in page


def test_closing_by_total_follows_the_worked_example(as_manager, worked_session):
    response = as_manager.post(
        _close_url(worked_session),
        {"method": "total", "counted": "200.00", "retained_float": "150.00"},
    )

    assert response.status_code == 302
    session = _fresh(worked_session)
    assert session.expected_cash == D("202.00")
    assert session.counted_cash == D("200.00")
    assert session.end_discrepancy == D("-2.00")
    assert session.cash_removed == D("50.00")
    assert session.total_discrepancy == D("-2.00")


@pytest.mark.parametrize("who", ["manager", "cashier"])
def test_a_close_sent_again_shows_the_closed_session_not_the_form(
    client, request, who, worked_session, db_rows
):
    """The back button and a resubmitted close form: the second close is refused, and
    the page shown is the closed session's, not the form of a session that looks open."""
    client.force_login(request.getfixturevalue(who))
    data = {"method": "total", "counted": "200.00", "retained_float": "150.00"}
    assert client.post(_close_url(worked_session), data).status_code == 302
    before = db_rows()

    again = client.post(_close_url(worked_session), data, follow=True)

    session_url = reverse("reports:session", args=[worked_session.pk])
    assert again.redirect_chain == [(session_url, 302)]
    html = again.content.decode()
    assert "This session is already closed." in html
    assert "This session is closed; a closed session never changes." not in html
    assert _close_url(worked_session) not in html  # no Count & close any more
    assert "Open since" not in html
    assert db_rows() == before
    assert _fresh(worked_session).end_discrepancy == D("-2.00")


def test_any_close_of_a_closed_session_leads_to_it(as_manager, worked_session, manager):
    """Nothing typed can change a closed session: even a bad count is not shown on a form
    that looks open, but answered with the closed session."""
    services.close_session(session=worked_session, counted="202.00", by=manager)

    response = as_manager.post(_close_url(worked_session), {"method": "total", "counted": "x"})

    assert response.status_code == 302
    assert response.url == reverse("reports:session", args=[worked_session.pk])


def test_a_retained_float_left_at_the_default_is_capped_by_the_service(as_manager, counted_session):
    # Counted 60.00, less than the default float of 100.00 that the form offered.
    as_manager.post(
        _close_url(counted_session),
        {"count_50.00": "1", "count_10.00": "1", "retained_float": "100.00"},
    )

    session = _fresh(counted_session)
    assert session.retained_float == D("60.00")
    assert session.cash_removed == D("0.00")


def test_closing_without_counting_is_a_deliberate_choice(as_manager, counted_session, db_rows):
    before = db_rows()
    forgot = as_manager.post(_close_url(counted_session), {"retained_float": "100.00"})

    assert forgot.status_code == 400
    assert b"close without counting" in forgot.content
    assert db_rows() == before

    response = as_manager.post(
        _close_url(counted_session), {"not_counted": "on", "retained_float": "100.00"}
    )

    assert response.status_code == 302
    session = _fresh(counted_session)
    assert session.status == "closed"
    assert session.counted_cash is None
    assert session.end_discrepancy is None
    assert session.expected_cash == D("145.50")
    assert session.cash_removed == D("45.50")


def test_a_count_and_not_counted_together_are_refused(as_manager, counted_session, db_rows):
    before = db_rows()

    response = as_manager.post(
        _close_url(counted_session), {"not_counted": "on", "count_50.00": "1"}
    )

    assert response.status_code == 400
    assert db_rows() == before


def test_an_empty_drawer_counts_as_zero_not_as_not_counted(as_manager, counted_session):
    as_manager.post(_close_url(counted_session), {"count_50.00": "0"})

    session = _fresh(counted_session)
    assert session.counted_cash == D("0.00")
    assert session.end_discrepancy == D("-145.50")


def test_a_blind_close_hides_the_expected_cash_from_a_cashier_only(
    client, cashier, manager, counted_register, counted_session
):
    # Blind is fixed when a session opens: as if the register counted blind then.
    TrackingSession.objects.filter(pk=counted_session.pk).update(blind_close=True)

    client.force_login(cashier)
    for url in (_close_url(counted_session), reverse("operations:registers")):
        html = client.get(url).content.decode()
        assert "145.50" not in html and "145,50" not in html
        assert "blind" in html
    assert "data-expected" not in client.get(_close_url(counted_session)).content.decode()

    client.force_login(manager)
    assert "€145.50" in client.get(_close_url(counted_session)).content.decode()
    assert "€145.50" in client.get(reverse("operations:registers")).content.decode()

    # After the count is submitted, the cashier sees the result.
    client.force_login(cashier)
    response = client.post(_close_url(counted_session), {"count_100.00": "1", "count_50.00": "1"})
    assert response.status_code == 302
    result = client.get(reverse("operations:registers")).content.decode()
    assert "expected €145.50" in result and "€4.50 over" in result


# --- shared closing (DOMAIN.md rules 8-11, the German worked example) ----------------------


def test_a_shared_close_runs_sub_by_sub_then_main(
    as_manager, main_register, sub_a, sub_b, manager, db_rows
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    a = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    b = services.open_session(register=sub_b, opening_float="0.00", by=manager)
    _sale(sub_a, "300.00")
    _sale(sub_b, "300.00")
    _sale(main_register, "400.00")
    count = {"count_500.00": "2", "count_2.00": "1", "count_0.50": "1"}  # 1,002.50

    page = as_manager.get(_close_url(main)).content.decode()
    assert "2 sub-registers are still open" in page
    assert _close_url(a) in page and _close_url(b) in page

    before = db_rows()
    refused = as_manager.post(_close_url(main), count)
    assert refused.status_code == 409
    assert b"Close the sub-registers first: Sub A, Sub B still open." in refused.content
    assert db_rows() == before
    assert _fresh(main).is_open

    sub_page = as_manager.get(_close_url(a)).content.decode()
    assert "Its cash goes to Main C" in sub_page and 'name="count_' not in sub_page
    for sub in (a, b):
        response = as_manager.post(_close_url(sub), {})
        assert response.status_code == 302
        closed = _fresh(sub)
        assert closed.status == "closed" and closed.retained_float == D("0.00")
        assert ClosingTransfer.objects.get(sub_session=sub).amount == D("300.00")

    ready = as_manager.get(_close_url(main)).content.decode()
    assert "From Sub A" in ready and "From Sub B" in ready
    assert "€400.00" in ready and "€300.00" in ready and "€1,000.00" in ready
    assert "still open" not in ready

    response = as_manager.post(_close_url(main), count)
    assert response.status_code == 302
    closed = _fresh(main)
    assert closed.expected_cash == D("1000.00")
    assert closed.counted_cash == D("1002.50")
    assert closed.end_discrepancy == D("2.50")


def test_a_main_register_says_whether_its_expected_cash_includes_the_subs(
    as_manager, main_register, sub_a, sub_b, manager
):
    main = services.open_session(register=main_register, opening_float="0.00", by=manager)
    a = services.open_session(register=sub_a, opening_float="0.00", by=manager)
    b = services.open_session(register=sub_b, opening_float="0.00", by=manager)
    _sale(main_register, "400.00")
    _sale(sub_a, "300.00")
    _sale(sub_b, "300.00")

    def main_row() -> str:
        html = as_manager.get(reverse("operations:registers")).content.decode()
        start = html.index(f'id="register-{main_register.pk}"')
        return html[start : html.index('class="register-actions"', start)]

    # Both subs open: the figure is the main register's own cash only.
    row = main_row()
    assert "Expected, own cash" in row and "€400.00" in row
    assert "incl. subs" not in row

    # Sub A closed, Sub B open: A's cash is in, B's is not yet.
    services.close_session(session=a, by=manager)
    row = main_row()
    assert "Expected, without open subs" in row and "€700.00" in row
    assert "incl. subs" not in row

    services.close_session(session=b, by=manager)
    row = main_row()
    assert "Expected, incl. subs" in row and "€1,000.00" in row
    assert _fresh(main).is_open


def test_a_sub_register_is_never_counted_on_its_page(as_manager, main_register, sub_a, manager):
    services.open_session(register=main_register, opening_float="0.00", by=manager)
    sub = services.open_session(register=sub_a, opening_float="0.00", by=manager)

    # A count posted anyway (a crafted request) is ignored: the form has no count.
    response = as_manager.post(_close_url(sub), {"count_50.00": "1", "retained_float": "5"})

    assert response.status_code == 302
    closed = _fresh(sub)
    assert closed.counted_cash is None and closed.retained_float == D("0.00")


# --- errors beside the field, nothing changed ----------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count_0.03": "2"}, "0.03 is not a EUR denomination."),
        ({"count_5.00": "-1"}, "Not less than 0."),
        ({"count_5.00": "two"}, "A whole number, please."),
    ],
)
def test_a_bad_count_is_shown_beside_the_grid_and_changes_nothing(
    as_manager, counted_session, db_rows, data, message
):
    before = db_rows()

    response = as_manager.post(_close_url(counted_session), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert db_rows() == before
    assert _fresh(counted_session).is_open


def test_an_amount_with_too_many_decimals_is_shown_beside_its_field(
    as_manager, worked_session, register, db_rows
):
    before = db_rows()

    adjust = as_manager.post(
        _adjust_url(worked_session), {"direction": "in", "amount": "12.345", "reason": "x"}
    )
    close = as_manager.post(_close_url(worked_session), {"method": "total", "counted": "12.345"})

    for response in (adjust, close):
        assert response.status_code == 400
        html = response.content.decode()
        assert "EUR amounts have at most 2 decimals." in html
        # Beside the field: the error follows the amount input, not the page top.
        assert html.index("at most 2 decimals") > html.index("amount-wrap")
    assert db_rows() == before


def test_a_bad_opening_float_is_shown_beside_its_field(as_manager, register, db_rows):
    before = db_rows()

    response = as_manager.post(_open_url(register), {"method": "total", "opening_float": "abc"})

    assert response.status_code == 400
    assert "field-error" in response.content.decode()
    assert db_rows() == before


# --- access ------------------------------------------------------------------------------


def test_an_accountant_may_not_operate_registers(client, accountant, worked_session, register):
    client.force_login(accountant)

    assert client.get(reverse("operations:registers")).status_code == 403
    assert (
        client.get(f"{reverse('operations:registers')}?location={register.location_id}").status_code
        == 403
    )
    assert client.get(_open_url(register)).status_code == 403
    assert client.get(_adjust_url(worked_session)).status_code == 403
    assert client.get(_close_url(worked_session)).status_code == 403
    response = client.post(_close_url(worked_session), {"method": "total", "counted": "1.00"})
    assert response.status_code == 403
    assert _fresh(worked_session).is_open


def test_another_locations_registers_answer_404(
    client, make_user, other_location, worked_session, register, location
):
    stranger = make_user("victor", location=other_location, role="manager")
    client.force_login(stranger)

    assert client.get(_open_url(register)).status_code == 404
    assert client.get(_adjust_url(worked_session)).status_code == 404
    assert client.get(_close_url(worked_session)).status_code == 404
    assert client.post(_close_url(worked_session), {"not_counted": "on"}).status_code == 404
    assert (
        client.get(f"{reverse('operations:registers')}?location={location.pk}").status_code == 404
    )
    assert _fresh(worked_session).is_open


def test_a_cashier_operates_the_registers(as_cashier, register):
    assert as_cashier.get(reverse("operations:registers")).status_code == 200
    response = as_cashier.post(_open_url(register), {"method": "total", "opening_float": "150"})
    assert response.status_code == 302


def test_anonymous_visitors_are_asked_to_log_in(client, worked_session, register):
    for url in (
        reverse("operations:registers"),
        _open_url(register),
        _adjust_url(worked_session),
        _close_url(worked_session),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_state_changes_need_the_csrf_token(manager, register, worked_session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)

    assert client.post(_open_url(register), {"opening_float": "1"}).status_code == 403
    response = client.post(
        _adjust_url(worked_session), {"direction": "in", "amount": "1", "reason": "x"}
    )
    assert response.status_code == 403
    assert client.post(_close_url(worked_session), {"not_counted": "on"}).status_code == 403
    assert _fresh(worked_session).is_open
    assert _fresh(worked_session).adjustments_in == D("2.00")
