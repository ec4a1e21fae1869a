"""Chart labels, month names and payment methods in the page's language (issue 11).

Month names come from Django's own catalogues through localised date formats; the
formats themselves are translatable (pgettext "chart …"), so a language writes its months
its own way. Payment methods every store knows are translated for display only: the
stored name and the API and CSV files keep "voucher".
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from cashdrawer.bounds import method_label
from cashdrawer.scope import Period
from reports import charts as charts_module
from reports.charts import discrepancy_charts
from reports.selectors import sessions_in_range
from sessions_app import services

AMSTERDAM_DAY = dt.date(2025, 11, 3)
LONG = Period("custom", dt.date(2025, 6, 1), dt.date(2026, 7, 5))  # drawn per month
QUARTER = Period("custom", dt.date(2025, 10, 1), dt.date(2025, 12, 29))  # per week
MONTH = Period("custom", dt.date(2025, 11, 1), dt.date(2025, 11, 30))  # per day
# English abbreviations that differ from Dutch and German ones: if one shows, a label
# bypassed the localised formats.
ENGLISH_ONLY = {"nl": ("Mar", "Oct", "May"), "de": ("Mar", "Oct", "May", "Dec")}


@pytest.fixture
def closed_sessions(location, register, manager):
    for opened in (
        dt.datetime(2025, 10, 6, 9, tzinfo=location.tzinfo),
        dt.datetime(2025, 11, 3, 9, tzinfo=location.tzinfo),
        dt.datetime(2026, 3, 2, 9, tzinfo=location.tzinfo),
    ):
        session = services.open_session(
            register=register, opening_float="50.00", by=manager, at=opened
        )
        services.close_session(
            session=session, counted="49.00", by=manager, at=opened + dt.timedelta(hours=6)
        )
    return sessions_in_range([location], LONG.first, LONG.last)


def _chart_texts(sessions, period: Period) -> list[str]:
    chart = discrepancy_charts(sessions, period=period, currency="EUR").days
    return [label.text for label in chart.labels] + [bar.title for bar in chart.bars]


@pytest.mark.parametrize("language", ["nl", "de"])
@pytest.mark.parametrize("period", [LONG, QUARTER, MONTH], ids=["months", "weeks", "days"])
def test_chart_labels_carry_no_english_month_names(closed_sessions, language, period):
    with translation.override(language):
        texts = _chart_texts(closed_sessions, period)
    words = set(re.findall(r"[A-Za-zäÄ]+", " ".join(texts)))
    assert words.isdisjoint(ENGLISH_ONLY[language]), texts


def test_month_names_are_djangos_for_the_language(closed_sessions):
    with translation.override("nl"):
        months = _chart_texts(closed_sessions, LONG)
        weeks = _chart_texts(closed_sessions, QUARTER)
    # Django's Dutch abbreviations as Dutch writes them, lower case ("b", not "M").
    assert "mrt 2026" in months
    assert any(title.startswith("maart 2026:") for title in months)
    assert "1 okt" in weeks
    with translation.override("de"):
        assert "Mär 2026" in _chart_texts(closed_sessions, LONG)


def test_a_language_writes_its_months_its_own_way_through_the_chart_formats(
    closed_sessions, monkeypatch
):
    """The chart's formats pass through pgettext: a catalogue that gives Dutch lowercase
    abbreviations ("b": nov, mrt) is followed on every axis and in every title."""
    dutch = {"M": "b", "j M": "j b", "D j M": "D j b", "M Y": "b Y", "D j": "D j"}
    monkeypatch.setattr(charts_module, "pgettext", lambda context, text: dutch[text])
    with translation.override("nl"):
        months = _chart_texts(closed_sessions, LONG)
        weeks = _chart_texts(closed_sessions, QUARTER)
        days = _chart_texts(closed_sessions, MONTH)
    assert "mrt 2026" in months and "jun 2025" in months
    assert "1 okt" in weeks
    assert any(title.startswith("ma 3 nov:") for title in days)
    assert not any(re.search(r"\b(Nov|Okt|Mrt|Dec)\b", text) for text in months + weeks + days)


# --- payment methods ---------------------------------------------------------------------


@pytest.fixture
def german_voucher(monkeypatch):
    """A German "Voucher" until the catalogue has one: what gettext answers for it."""
    with translation.override("de"):
        catalog = trans_real.translation("de")._catalog._catalogs[0]
    monkeypatch.setitem(catalog, "Voucher", "Gutschein")


def test_known_payment_methods_are_translated_and_others_shown_as_entered(german_voucher):
    with translation.override("de"):
        assert [method_label(name) for name in ("cash", "card", "voucher", "tickets")] == [
            "Bar",
            "Karte",
            "Gutschein",
            "Tickets",
        ]
    with translation.override("nl"):
        assert [method_label(name) for name in ("cash", "card")] == ["Contant", "Kaart"]
    assert method_label("voucher") == "Voucher"  # English


def test_the_session_page_shows_payment_methods_in_german(
    location, register, manager, takes_vouchers, german_voucher
):
    session = services.open_session(register=register, opening_float="150.00", by=manager)
    for method in ("cash", "card", "voucher"):
        services.record_transaction(
            register=register, kind="sale", payment_method=method, amount="5.00"
        )
    client = Client()
    client.force_login(manager)
    url = reverse("reports:session", args=[session.pk])
    html = client.get(url, headers={"accept-language": "de"}).content.decode()

    assert '<html lang="de">' in html
    cells = re.findall(r"<td>(Bar|Karte|Gutschein|Voucher|voucher|Cash|Card)</td>", html)
    assert "Voucher" not in cells and "voucher" not in cells
    assert cells.count("Gutschein") == 2  # in sales by method and in the transaction
    assert {"Bar", "Karte"} <= set(cells)
    # Display only: the stored name stays as the terminal sent it.
    assert session.transactions.filter(payment_method="voucher").count() == 1
