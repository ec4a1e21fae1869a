"""The interface ships in English, Dutch and German (issue 4, item 6).

The catalogues in locale/ are checked with the standard library only: every entry of each
django.po is translated and not fuzzy, its placeholders are those of the English text,
and the committed django.mo says exactly what the django.po says (so a machine without
GNU gettext shows the same translations). Then a few key strings and whole pages are
looked at in each language.

After `makemessages`, a failure here lists the entries still to translate: fill them in
locale/<lang>/LC_MESSAGES/django.po, remove their fuzzy flags once checked, and run
`compilemessages` (the .mo files are committed).
"""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

LOCALE = Path(settings.BASE_DIR) / "locale"
LANGUAGES = ["nl", "de"]
DOMAINS = sorted({path.stem for path in LOCALE.glob("*/LC_MESSAGES/*.po")}) or ["django"]

# %(name)s / %(count)d / %s, the {{ var }} of DRF messages, HTML tags and entities.
TOKEN = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\{\s*\w*\s*\}\}|</?[a-z][^>]*>|&#?\w+;")


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> str:
        return f"{self.msgctxt}\x04{self.msgid}" if self.msgctxt is not None else self.msgid

    def __str__(self) -> str:
        context = f" [{self.msgctxt}]" if self.msgctxt is not None else ""
        return f"line {self.line}: {self.msgid!r}{context}"


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file, header first; obsolete (#~) entries are left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None

    def finish() -> None:
        nonlocal entry
        if entry is not None and (entry.msgid or entry.msgstr):
            entries.append(entry)
        entry = None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            finish()
            continue
        if entry is None:
            entry = Entry(line=number)
        if line.startswith("#,"):
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert target is not None, f"{path}:{number}: a string continues nothing"
            text = ast.literal_eval(line)
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
        else:
            keyword, _space, value = line.partition(" ")
            text = ast.literal_eval(value)
            if keyword.startswith("msgstr"):
                index = int(keyword[7:-1]) if "[" in keyword else 0
                entry.msgstr[index] = text
                target = ("msgstr", index)
            else:
                assert keyword in {"msgid", "msgid_plural", "msgctxt"}, f"{path}:{number}"
                setattr(entry, keyword, text)
                target = (keyword, 0)
    finish()
    return entries


def catalogue(language: str, domain: str) -> list[Entry]:
    path = LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"{path} is missing: run makemessages (see this module's docstring)"
    entries = parse_po(path)
    assert entries and entries[0].msgid == "", f"{path} has no header entry"
    return entries


def messages(language: str, domain: str) -> list[Entry]:
    return catalogue(language, domain)[1:]


@pytest.fixture(autouse=True)
def _language_restored():
    """A request through LocaleMiddleware leaves its language active in this thread; put
    back what was active, so later tests of other modules see English again."""
    previous = translation.get_language()
    yield
    if previous:
        translation.activate(previous)
    else:
        translation.deactivate()


params = pytest.mark.parametrize(
    ("language", "domain"), [(lang, domain) for lang in LANGUAGES for domain in DOMAINS]
)


# --- the catalogues ------------------------------------------------------------------------


@params
def test_the_header_names_the_language_and_its_plural_rule(language, domain):
    header = catalogue(language, domain)[0]
    assert "fuzzy" not in header.flags, "remove the fuzzy flag of the header entry"
    text = header.msgstr[0]
    assert f"Language: {language}\n" in text
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in text
    assert "charset=UTF-8" in text


@params
def test_every_entry_is_translated_and_none_is_fuzzy(language, domain):
    entries = messages(language, domain)
    assert entries
    untranslated = [
        str(entry)
        for entry in entries
        if not entry.msgstr
        or any(not text for text in entry.msgstr.values())
        or (entry.msgid_plural is not None and sorted(entry.msgstr) != [0, 1])
    ]
    fuzzy = [str(entry) for entry in entries if "fuzzy" in entry.flags]
    assert not untranslated, f"{language}/{domain}.po: translate " + "; ".join(untranslated)
    assert not fuzzy, f"{language}/{domain}.po: check, then unflag " + "; ".join(fuzzy)


@params
def test_translations_keep_the_placeholders_and_markup(language, domain):
    wrong = []
    for entry in messages(language, domain):
        if entry.msgid_plural is None:
            pairs = [(entry.msgid, entry.msgstr.get(0, ""))]
        else:
            # The singular may say "one" instead of "%(count)s" (it is the count 1).
            pairs = [(entry.msgid_plural, entry.msgstr.get(1, ""))]
            singular = sorted(TOKEN.findall(entry.msgstr.get(0, "")))
            if not set(singular) <= set(TOKEN.findall(entry.msgid_plural)):
                wrong.append(f"{entry} singular: {singular}")
        for source, translated in pairs:
            expected, got = sorted(TOKEN.findall(source)), sorted(TOKEN.findall(translated))
            if expected != got:
                wrong.append(f"{entry}: {expected} != {got}")
    assert not wrong, "\n".join(wrong)


@params
def test_the_committed_mo_file_says_what_the_po_file_says(language, domain):
    mo_path = LOCALE / language / "LC_MESSAGES" / f"{domain}.mo"
    assert mo_path.exists(), f"{mo_path} is missing: run compilemessages"
    with mo_path.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    catalog = compiled._catalog  # msgid -> msgstr; (msgid, n) -> msgstr[n] for plurals
    stale = []
    for entry in messages(language, domain):
        if entry.msgid_plural is None:
            if catalog.get(entry.key) != entry.msgstr[0]:
                stale.append(str(entry))
        else:
            for index, text in entry.msgstr.items():
                if catalog.get((entry.key, index)) != text:
                    stale.append(f"{entry} [{index}]")
    assert not stale, f"{mo_path} is out of date, run compilemessages: " + "; ".join(stale)
    assert compiled.info().get("plural-forms") == "nplurals=2; plural=(n != 1);"


@pytest.mark.parametrize("language", LANGUAGES)
def test_date_formats_of_the_charts_are_django_date_formats(language):
    """pgettext("chart …", "D j M") and the like are date formats: only format characters,
    spaces and punctuation, and they render a date of that language."""
    allowed = set(dateformat.DateFormat.__dict__) | set(dateformat.TimeFormat.__dict__)
    day = dt.date(2026, 11, 2)  # a Monday
    for entry in messages(language, "django"):
        if entry.msgctxt is None or not entry.msgctxt.startswith("chart"):
            continue
        text = entry.msgstr[0]
        letters = {char for char in text if char.isalpha()}
        assert letters <= allowed, f"{entry}: {text!r} has no date format letters {letters}"
        with translation.override(language):
            rendered = dateformat.format(day, text)
        assert "2" in rendered or "Nov" in rendered or "nov" in rendered, (entry, rendered)


# --- the translations at work ---------------------------------------------------------------


KEY_STRINGS = {
    "de": {
        "Log out": "Abmelden",
        "Registers": "Kassen",
        "Total discrepancy": "Gesamtdifferenz",
        "Expected cash": "Erwarteter Kassenbestand",
        "Opening float": "Anfangsbestand",
        "Retained float": "Verbleibendes Wechselgeld",
        "Count and close": "Zählen und abschließen",
    },
    "nl": {
        "Log out": "Uitloggen",
        "Registers": "Kassa's",
        "Total discrepancy": "Totaal kasverschil",
        "Expected cash": "Verwacht kassaldo",
        "Opening float": "Beginsaldo",
        "Retained float": "Achtergelaten wisselgeld",
        "Count and close": "Tellen en afsluiten",
    },
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_key_strings_come_out_translated(language):
    with translation.override(language):
        for english, translated in KEY_STRINGS[language].items():
            assert _(english) == translated
        assert (
            ngettext("%(count)d session", "%(count)d sessions", 3) % {"count": 3}
            == {
                "de": "3 Sitzungen",
                "nl": "3 sessies",
            }[language]
        )
        assert pgettext("chart date, e.g. 3 Nov", "j M") == {"de": "j. M", "nl": "j b"}[language]
    with translation.override("en"):
        assert _("Total discrepancy") == "Total discrepancy"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("de", ["Anmelden", "Benutzername", "Passwort", "auf den Cent genau gezählt"]),
        ("nl", ["Inloggen", "Gebruikersnaam", "Wachtwoord", "tot op de cent geteld"]),
        ("en", ["Log in", "Username", "Password", "counted to the cent"]),
    ],
)
def test_the_login_page_follows_the_browser_language(client, language, expected):
    response = client.get("/login/", headers={"accept-language": f"{language},en;q=0.5"})
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    for text in expected:
        assert text in page


@pytest.mark.django_db
def test_the_language_picked_in_the_top_bar_wins_over_the_browser(client, manager, register):
    client.force_login(manager)
    response = client.post("/i18n/setlang/", {"language": "de", "next": "/registers/"})
    assert response.status_code == 302
    page = client.get("/registers/", headers={"accept-language": "nl"}).content.decode()
    assert '<html lang="de">' in page
    for text in ["Kassen", "Abmelden", "Sitzung eröffnen", "Übersicht"]:
        assert text in page, text

    client.post("/i18n/setlang/", {"language": "nl", "next": "/registers/"})
    page = client.get("/registers/").content.decode()
    assert '<html lang="nl">' in page
    for text in ["Kassa's", "Uitloggen", "Sessie openen", "Overzicht"]:
        assert text.replace("'", "&#x27;") in page or text in page, text
