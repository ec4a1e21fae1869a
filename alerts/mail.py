"""The e-mails of alerts: one per alert to the managers who want each alert at once, and
a daily digest to those who want one mail a day (Membership.alert_mail).

Mails are written in the site's language (settings.LANGUAGE_CODE): a user has no language
of their own stored, and a mail has no request to take one from. Each recipient gets a
mail of their own, so no manager learns the others' addresses.

Sending never raises: an error of the mail server (or of anything else on the way) is
logged, and the alert stays, without `emailed_at`. It is shown on screen all the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from alerts.models import Alert
from alerts.selectors import recipients
from cashdrawer.models import Location, Membership
from cashdrawer.money import format_amount

logger = logging.getLogger(__name__)


def session_url(alert: Alert) -> str:
    return settings.SITE_URL + reverse("reports:session", args=[alert.session_id])


def _local(moment: dt.datetime | None, location: Location) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(location.timezone)).strftime("%Y-%m-%d %H:%M")


def _details(alert: Alert) -> list[str]:
    session = alert.session
    location = alert.location
    currency = location.currency
    lines = [
        _("Store: %(name)s") % {"name": location.name},
        _("Register: %(name)s") % {"name": session.register.name},
        _("Opened: %(at)s") % {"at": _local(session.opened_at, location)},
    ]
    if session.closed_at is not None:
        lines.append(_("Closed: %(at)s") % {"at": _local(session.closed_at, location)})
    if alert.kind == Alert.Kind.DISCREPANCY:
        lines.append(
            _("Discrepancy: %(amount)s %(currency)s (alert above %(threshold)s %(currency)s)")
            % {
                "amount": format_amount(alert.amount, currency),
                "currency": currency,
                "threshold": format_amount(location.discrepancy_threshold, currency),
            }
        )
    lines.append(session_url(alert))
    return lines


def alert_mail(alert: Alert) -> tuple[str, str]:
    """The subject and text of the mail of one alert."""
    subject = _("Cashdrawer alert, %(store)s: %(message)s") % {
        "store": alert.location.name,
        "message": alert.message(),
    }
    body = "\n".join(
        [
            alert.message() + ".",
            "",
            *_details(alert),
            "",
            _(
                "You receive this mail because you manage this store and receive its "
                "alerts. The alerts page of Cashdrawer lists every alert."
            ),
        ]
    )
    return subject, body


def _send(messages: list[EmailMessage], what: str) -> bool:
    try:
        mailers.default.send_messages(messages)
    except Exception:
        logger.exception("Could not send %s", what)
        return False
    return True


def send_alert_mail(alert_id: int) -> None:
    """E-mail one alert to its location's managers who want each alert at once. Runs after
    the commit of the transaction that raised it; never raises."""
    try:
        alert = Alert.objects.select_related("location", "session__register").get(pk=alert_id)
        users = list(
            recipients(location=alert.location_id, alert_mail=Membership.AlertMail.IMMEDIATE)
        )
        if not users:
            return
        with translation.override(settings.LANGUAGE_CODE):
            subject, body = alert_mail(alert)
        messages = [EmailMessage(subject, body, to=[user.email]) for user in users]
        if _send(messages, f"the mail of alert {alert_id}"):
            Alert.objects.filter(pk=alert_id, emailed_at__isnull=True).update(
                emailed_at=timezone.now()
            )
    except Exception:
        logger.exception("Could not send the mail of alert %s", alert_id)


# --- the daily digest ----------------------------------------------------------------------


def local_day_bounds(location: Location, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The start and end (exclusive) of a calendar day in the location's time zone."""
    zone = ZoneInfo(location.timezone)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def digest_day(location: Location, now: dt.datetime) -> dt.date:
    """The day a digest sent at `now` is about: yesterday in the location's time zone."""
    return now.astimezone(ZoneInfo(location.timezone)).date() - dt.timedelta(days=1)


@dataclass
class Digest:
    user: object
    alerts: list[Alert] = field(default_factory=list)
    days: set[dt.date] = field(default_factory=set)  # the local days it covers


def digests(*, day: dt.date | None = None, now: dt.datetime | None = None) -> list[Digest]:
    """One digest per manager who wants one (alert_mail daily, receives alerts, an active
    user with an e-mail address) and had alerts: the alerts of `day` (default: yesterday,
    each store's own) at each of their stores, the local day of each store."""
    now = now or timezone.now()
    memberships = (
        Membership.objects.filter(
            role=Membership.Role.MANAGER,
            receives_alerts=True,
            alert_mail=Membership.AlertMail.DAILY,
            user__is_active=True,
        )
        .exclude(user__email="")
        .select_related("user", "location")
        .order_by("user_id", "location__name")
    )
    by_location: dict[int, list[Alert]] = {}
    days: dict[int, dt.date] = {}
    result: dict[int, Digest] = {}
    for membership in memberships:
        location = membership.location
        if location.pk not in by_location:
            days[location.pk] = day or digest_day(location, now)
            start, end = local_day_bounds(location, days[location.pk])
            by_location[location.pk] = list(
                Alert.objects.filter(location=location, created_at__gte=start, created_at__lt=end)
                .select_related("location", "session__register")
                .order_by("created_at", "id")
            )
        if by_location[location.pk]:
            digest = result.setdefault(membership.user_id, Digest(membership.user))
            digest.alerts.extend(by_location[location.pk])
            digest.days.add(days[location.pk])
    return list(result.values())


def digest_mail(digest: Digest) -> tuple[str, str]:
    count = len(digest.alerts)
    when = " / ".join(day.isoformat() for day in sorted(digest.days))
    subject = _("Cashdrawer: %(count)s alerts of %(day)s") % {"count": count, "day": when}
    lines = [
        _("The alerts of %(day)s at the stores you manage:") % {"day": when},
        "",
    ]
    per_store: dict[str, list[Alert]] = defaultdict(list)
    for alert in digest.alerts:
        per_store[alert.location.name].append(alert)
    for store, alerts in per_store.items():
        lines.append(store)
        for alert in alerts:
            lines.append(
                f"- {_local(alert.created_at, alert.location)[11:]}  {alert.message()}"
                f"  {session_url(alert)}"
            )
        lines.append("")
    lines.append(
        _("You receive this mail because you chose one mail a day with the alerts of your stores.")
    )
    return subject, "\n".join(lines)


def send_digests(*, day: dt.date | None = None, now: dt.datetime | None = None) -> tuple[int, int]:
    """Send the digests; returns (sent, failed)."""
    sent = failed = 0
    for digest in digests(day=day, now=now):
        with translation.override(settings.LANGUAGE_CODE):
            subject, body = digest_mail(digest)
        message = EmailMessage(subject, body, to=[digest.user.email])
        if _send([message], f"the alert digest of user {digest.user.pk}"):
            sent += 1
        else:
            failed += 1
    return sent, failed
