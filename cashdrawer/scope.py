"""What a back-office page is about: one location (or all of a user's locations) and a
range of local days. Both live in the URL (`?location=3&range=this_month`, or
`?range=custom&from=2026-11-01&to=2026-11-15`), so a view can be bookmarked and shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cashdrawer.models import Location
from cashdrawer.selectors import locations_for

RANGES = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "this_week": _("This week"),
    "last_7_days": _("Last 7 days"),
    "this_month": _("This month"),
    "last_month": _("Last month"),
    "custom": _("Custom"),
}
DEFAULT_RANGE = "this_month"
# A custom range longer than this is refused: nobody reads a decade on one screen.
MAX_DAYS = 3 * 366
# Dates outside these years are typos, and near the ends of the calendar the bounds of a
# local day (`last + 1 day`, shifted to UTC) would overflow Python's datetime. The page,
# the admin's filter and the report API all refuse them with these bounds.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)


def outside_calendar(day: dt.date) -> bool:
    return not FIRST_DATE <= day <= LAST_DATE


def outside_calendar_message() -> str:
    return str(_("Enter a date between %(first)s and %(last)s.")) % {
        "first": FIRST_DATE.isoformat(),
        "last": LAST_DATE.isoformat(),
    }


@dataclass(frozen=True)
class Period:
    key: str
    first: dt.date
    last: dt.date
    error: str | None = None  # set when a custom range was refused and a default used

    @property
    def label(self) -> str:
        return str(RANGES[self.key])

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range(self.days)]


def _parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def resolve_period(params: Mapping[str, str], today: dt.date) -> Period:
    """The range asked for in `params`; an unknown or broken one falls back to the default
    with a message, so a mistyped URL still shows a page, not an error."""
    key = params.get("range") or DEFAULT_RANGE
    if key not in RANGES:
        key = DEFAULT_RANGE
    if key == "today":
        return Period(key, today, today)
    if key == "yesterday":
        day = today - dt.timedelta(days=1)
        return Period(key, day, day)
    if key == "this_week":
        return Period(key, today - dt.timedelta(days=today.weekday()), today)
    if key == "last_7_days":
        return Period(key, today - dt.timedelta(days=6), today)
    if key == "this_month":
        return Period(key, today.replace(day=1), today)
    if key == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return Period(key, last.replace(day=1), last)
    first, last = _parse_date(params.get("from")), _parse_date(params.get("to"))
    error = None
    if first is None or last is None:
        error = _("Enter both dates of the custom range as YYYY-MM-DD.")
    elif outside_calendar(first) or outside_calendar(last):
        error = outside_calendar_message()
    elif first > last:
        error = _("The first day of the range comes after the last day.")
    elif (last - first).days >= MAX_DAYS:
        error = _("Choose a range of at most three years.")
    if error:
        fallback = resolve_period({"range": DEFAULT_RANGE}, today)
        return Period(fallback.key, fallback.first, fallback.last, error=str(error))
    return Period(key, first, last)


@dataclass(frozen=True)
class Scope:
    """The locations a page may show, the one chosen (None: all of them) and the range."""

    locations: list[Location]
    location: Location | None
    period: Period
    allow_all: bool
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def selected(self) -> list[Location]:
        return [self.location] if self.location else self.locations

    @property
    def currency(self) -> str | None:
        currencies = {location.currency for location in self.selected}
        return currencies.pop() if len(currencies) == 1 else None

    def params(self, **changes: object) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.location is not None:
            params["location"] = str(self.location.pk)
        params["range"] = self.period.key
        if self.period.key == "custom":
            params["from"] = self.period.first.isoformat()
            params["to"] = self.period.last.isoformat()
        params.update(self.extra)
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = str(value)
        return params

    def query(self, **changes: object) -> str:
        return urlencode(self.params(**changes))

    def api_query(self) -> str:
        """The same location and range as the API's report parameters."""
        params = {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()}
        if self.location is not None:
            params = {"location": str(self.location.pk), **params}
        return urlencode(params)


def scope_from_request(
    request, *, roles: frozenset[str] | None = None, allow_all: bool = True, keep: tuple = ()
) -> Scope:
    """Read location and range from the query string. A location the user may not see
    answers 404 (never its data); with no location given, a user with one location gets
    it, and a user with several gets "all" where the page allows it."""
    locations = list(locations_for(request.user, roles=roles).order_by("name"))
    if not locations:
        raise Http404("No location")
    raw = request.GET.get("location", "")
    location: Location | None
    if raw and raw != "all":
        location = next((loc for loc in locations if str(loc.pk) == raw), None)
        if location is None:
            raise Http404("No such location")
    elif len(locations) == 1 or not allow_all:
        location = locations[0]
    else:
        location = None
    tz = (location or locations[0]).tzinfo
    today = timezone.now().astimezone(tz).date()
    period = resolve_period(request.GET, today)
    extra = {name: request.GET[name] for name in keep if request.GET.get(name)}
    return Scope(locations, location, period, allow_all and len(locations) > 1, extra)
