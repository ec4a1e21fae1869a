"""Every page under the strict Content-Security-Policy (settings.SECURE_CSP), in Chromium.

No inline script or style is allowed, so each page's behaviour lives in static/js/ and its
looks in static/css/. The `page` fixture (conftest.py) fails a test on any violation the
browser reports and on any uncaught JavaScript error; the tests here walk through every
kind of page, use the JavaScript on them (so a script that did not load shows as a
failure, not only as a violation), and prove that the detector itself sees a violation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from sessions_app.models import TrackingSession
from tests import reports_fixtures
from tests.browser.conftest import SCREENSHOTS
from tests.pages_of_a_location import ADMIN, CASHIER, MANAGER, objects_of, visits
from tests.reports_fixtures import DAY

pytestmark = pytest.mark.django_db(transaction=True)

# The chain of shops (Amsterdam's day with a shared close) and a superuser.
chain = reports_fixtures.chain
root = reports_fixtures.root

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _csp(response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in header.split(";"))
        if name
    }


def _shot(page, name: str) -> None:
    """A full-page screenshot besides the fixture's one at the end: the looks of a page
    whose styles moved to static/css/ (test-artifacts/screenshots/csp-*.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"csp-{name}.png", full_page=True)


def _custom_day(location) -> str:
    return f"?location={location.pk}&range=custom&from={DAY}&to={DAY}"


# --- (a) the headers ------------------------------------------------------------------------


def test_pages_carry_a_strict_policy_and_the_other_security_headers(page, log_in, manager, root):
    log_in("maria")
    for path in ("/login/", "/overview/", "/registers/", "/no-such-page/"):
        response = page.goto(path)
        headers = response.headers
        policy = _csp(response)
        assert "'unsafe-inline'" not in headers["content-security-policy"], path
        assert "'unsafe-eval'" not in headers["content-security-policy"], path
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert policy["default-src"] == "'self'", path
        assert policy["object-src"] == "'none'", path
        assert policy["frame-ancestors"] == "'none'", path
        assert "camera=()" in headers["permissions-policy"], path
        assert headers["referrer-policy"] == "same-origin", path
        assert headers["x-frame-options"] == "DENY", path
    page.context.clear_cookies()
    log_in("root")
    for path in ("/admin/", "/api/docs/"):
        response = page.goto(path)
        assert "'unsafe-inline'" not in response.headers["content-security-policy"], path
        assert response.headers["x-frame-options"] == "DENY", path


# --- (b) every kind of page, used as a person would -----------------------------------------


def test_overview_with_charts_sorting_and_a_session_row_click(page, log_in, chain):
    page.goto("/login/")
    expect(page.locator("input[name=username]")).to_be_visible()
    log_in("maria")
    ams = chain.amsterdam
    page.goto(f"/overview/{_custom_day(ams)}")
    expect(page.locator(".charts .chart-svg").first).to_be_visible()
    # The legend's swatches take their colours from charts.css, not from style attributes.
    for tone, colour in (
        ("short", "rgb(194, 65, 12)"),
        ("over", "rgb(29, 78, 216)"),
        ("even", "rgb(148, 163, 184)"),
    ):
        expect(page.locator(f".chart-legend .swatch-{tone}")).to_have_css(
            "background-color", colour
        )

    _shot(page, "overview-charts")

    # Sorting by a column (a link), then the export menus: one open at a time.
    page.get_by_role("link", name="Total discrepancy").click()
    page.wait_for_url("**ordering=**")
    menus = page.locator("details.export-menu")
    menus.nth(0).locator("summary").click()
    expect(menus.nth(0)).to_have_attribute("open", "")
    page.locator("h1").click()
    expect(menus.nth(0)).not_to_have_attribute("open", "")

    # The scope bar: a new range is shown at once; "Custom" first shows the dates.
    page.select_option("select[name=range]", "last_7_days")
    page.wait_for_url("**range=last_7_days**")
    page.select_option("select[name=range]", "custom")
    expect(page.locator("[data-custom-range]")).to_be_visible()
    page.goto(f"/overview/{_custom_day(ams)}")

    # A click anywhere on a session row opens the session.
    row = page.locator(f"tr[data-session='{chain.r1.pk}']")
    row.locator("td").last.click()
    page.wait_for_url(re.compile(rf"/sessions/{chain.r1.pk}/$"))
    expect(page.locator("h1")).to_be_visible()


def test_session_detail_sub_rows_corrections_and_the_closing_slip(page, log_in, chain):
    log_in("maria")
    page.goto(f"/sessions/{chain.main.pk}/")
    # A sub-register's row opens its session.
    page.locator(f"tr[data-href='/sessions/{chain.sub.pk}/'] td").first.click()
    page.wait_for_url(re.compile(rf"/sessions/{chain.sub.pk}/$"))

    # An invalid correction: the page comes back with errors, scrolled to the form.
    page.goto(f"/sessions/{chain.main.pk}/")
    expect(page.get_by_role("button", name="Add correction")).to_be_hidden()  # until asked
    page.locator("summary", has_text="Add a correction").click()
    page.get_by_role("button", name="Add correction").click()
    page.wait_for_url(re.compile(rf"/sessions/{chain.main.pk}/corrections/$"))
    expect(page.locator("#corrections .field-error").first).to_be_visible()
    expect(page.locator("#corrections")).to_be_in_viewport()
    assert page.evaluate("window.scrollY") > 0

    page.goto(f"/sessions/{chain.main.pk}/slip/")
    expect(page.get_by_role("heading", name=re.compile("Closing slip"))).to_be_visible()
    expect(page.locator("[data-print]")).to_be_visible()  # shown by static/js/slip.js


def _type_count(page, quantities: dict[str, int]) -> None:
    page.locator("[data-clear-count]").first.click()
    for face, quantity in quantities.items():
        page.get_by_label(face, exact=True).fill(str(quantity))


def test_registers_open_adjust_and_close_with_the_live_total(
    page, log_in, manager, location, counted_register
):
    log_in("maria")
    page.goto("/registers/")
    row = page.locator(f"#register-{counted_register.pk}")
    row.get_by_role("link", name="Open session").click()
    _type_count(page, {"€50.00": 1, "€20.00": 2, "€10.00": 1})
    expect(page.locator("[data-count-total]").last).to_have_text("€100.00")
    page.get_by_role("button", name="Open session").click()
    expect(page.locator(".message.success")).to_be_visible()

    row.get_by_role("link", name="Add adjustment").click()
    page.locator("input[name=direction][value=in]").check(force=True)
    page.get_by_label("Amount").fill("5")
    page.get_by_label("Reason").fill("Change from the bank")
    page.get_by_role("button", name="Record adjustment").click()
    expect(page.locator(".message.success")).to_be_visible()

    row.get_by_role("link", name="Count & close").click()
    _type_count(page, {"€50.00": 2, "€5.00": 1})
    expect(page.locator("[data-count-total]").last).to_have_text("€105.00")
    expect(page.locator("[data-difference]")).to_have_text("€0.00")
    page.get_by_role("button", name="Close session").click()
    session = TrackingSession.objects.get(register=counted_register)
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/"))
    session.refresh_from_db()
    assert session.status == "closed"


def test_a_cashier_closes_a_blind_register(page, log_in, cashier, manager, make_register, location):
    blind = make_register(location, name="Blind 1", code="blind-1", blind_close=True)
    from sessions_app.services import open_session

    open_session(register=blind, opening_float="100.00", by=manager)
    log_in("carl")
    page.goto("/registers/")
    page.locator(f"#register-{blind.pk}").get_by_role("link", name="Count & close").click()
    expect(page.locator(".badge.blind").first).to_be_visible()
    _type_count(page, {"€50.00": 2})
    expect(page.locator("[data-count-total]").last).to_have_text("€100.00")


def test_the_language_picker_switches_to_dutch_and_back(page, log_in, manager):
    log_in("maria")
    page.goto("/registers/")
    with page.expect_navigation():
        page.select_option("#language-select", "nl")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    with page.expect_navigation():
        page.select_option("#language-select", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_admin_its_lists_forms_and_the_audit_trail(page, log_in, chain, root):
    log_in("root")
    page.goto("/admin/")
    expect(page.locator("#overviews-module")).to_be_visible()
    # The range form's padding comes from static/css/admin.css.
    expect(page.locator("#sessions-range-form")).to_have_css("padding-left", "10px")

    _shot(page, "admin-index")

    page.goto(reverse("admin:sessions_app_trackingsession_changelist"))
    expect(page.locator("#result_list")).to_be_visible()
    page.locator("#result_list tbody tr").first.locator("a").first.click()
    expect(page.locator("#content h1, #content h2").first).to_be_visible()

    page.goto(reverse("admin:cashdrawer_register_change", args=[chain.r1.register_id]))
    expect(page.locator("form#register_form")).to_be_visible()
    page.goto(reverse("admin:cashdrawer_register_add"))
    expect(page.locator("form#register_form")).to_be_visible()
    page.goto(reverse("admin:auth_user_change", args=[root.pk]))
    expect(page.locator("form#user_form")).to_be_visible()

    page.goto(reverse("admin:cashdrawer_auditentry_changelist"))
    expect(page.get_by_role("link", name="Export CSV", exact=True)).to_be_visible()
    # The changelist's own JavaScript: "select all" ticks every row.
    select_all = page.locator("#action-toggle")
    if select_all.count():
        select_all.check()
        expect(page.locator(".action-counter")).to_be_visible()


def test_the_api_docs_render_the_operations(page, log_in, root):
    log_in("root")
    page.goto("/api/docs/")
    # The schema is generated on its first request: seconds on a busy test machine.
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=60_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Cashdrawer API")
    # An operation opens with its parameters and responses (rendered by Swagger UI's script).
    page.locator(".swagger-ui .opblock-summary").first.click()
    expect(page.locator(".swagger-ui .opblock-body").first).to_be_visible()
    expect(page.locator(".swagger-ui .responses-wrapper").first).to_be_visible()


def test_the_error_pages(page, log_in, accountant, register):
    log_in("ada")
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("Nothing here")
    response = page.goto(f"/registers/{register.pk}/open/")  # templates/403.html
    assert response.status == 403
    expect(page.locator("h1")).to_contain_text("not part of your role")
    response = page.goto("/registers/")  # templates/sessions_app/no_access.html
    assert response.status == 403
    expect(page.locator("h1")).to_contain_text("Registers are operated by")


def test_every_page_of_a_location_as_manager_cashier_and_admin(page, log_in, chain, cashier, root):
    """The HTML pages that tests/pages_of_a_location.py lists for a location: the latest
    object of each kind, as the person it is listed for."""
    objects = objects_of(chain.amsterdam, device_register=chain.r1.register, touched=set())
    by_who: dict[str, list[str]] = {}
    for visit in visits(objects):
        by_who.setdefault(visit.who, []).append(visit.url)
    users = {MANAGER: "maria", CASHIER: "carl", ADMIN: "root"}
    assert set(users) <= set(by_who)
    for who, username in users.items():
        page.context.clear_cookies()
        log_in(username)
        for url in by_who[who]:
            response = page.goto(url)
            assert response.status == 200, (who, url, response.status)
            page.wait_for_load_state("load")


def test_no_template_has_inline_script_style_or_event_handlers():
    """The static side of the same rule, for pages no browser test reaches (503.html)."""
    offences = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>",
            r"<style\b",
            r"\sstyle=",
            r"\son[a-z]+=",
            r"javascript:",
        ):
            offences += [
                f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
                for match in re.finditer(pattern, text, re.I)
            ]
    assert offences == []


# --- (c) the detector sees a violation ------------------------------------------------------


def test_the_detector_reports_inline_script_style_and_handlers(
    page, log_in, manager, browser_problems
):
    log_in("maria")
    page.goto("/registers/")
    assert browser_problems.take_csp_violations() == []
    page.evaluate(
        """() => {
          document.body.insertAdjacentHTML(
            "beforeend",
            '<div style="color: red" id="probe">probe</div>'
              + '<img src="data:," onerror="window.__ran = true">'
          );
          const script = document.createElement("script");
          script.textContent = "window.__ran = true;";
          document.body.appendChild(script);
        }"""
    )
    page.wait_for_function("window.__cspViolations.length >= 3")
    assert page.evaluate("window.__ran") is None  # nothing inline ran
    seen = browser_problems.take_csp_violations()
    text = "\n".join(seen)
    assert "script-src-elem" in text and "style-src-attr" in text, text
    assert "script-src-attr" in text, text
    assert any("Content Security Policy" in line for line in seen), text  # Chromium's own

    # A page whose own markup breaks the policy is seen too, across a navigation.
    page.route(
        "**/csp-probe/",
        lambda route: route.fulfill(
            status=200,
            content_type="text/html",
            headers={"Content-Security-Policy": "script-src 'self'; style-src 'self'"},
            body="<!doctype html><style>p{}</style><script>1</script><p>probe</p>",
        ),
    )
    page.goto("/csp-probe/")
    page.wait_for_function("window.__cspViolations.length >= 2")
    page.goto("/registers/")
    seen = browser_problems.take_csp_violations()
    assert any("/csp-probe/" in line and "style-src-elem" in line for line in seen), seen
    assert any("/csp-probe/" in line and "script-src-elem" in line for line in seen), seen


def test_the_detector_reports_uncaught_page_errors(page, log_in, manager, browser_problems):
    log_in("maria")
    page.evaluate("setTimeout(() => { throw new Error('probe failure'); })")
    page.wait_for_timeout(200)
    assert any("probe failure" in error for error in browser_problems.page_errors)
    browser_problems.page_errors.clear()
