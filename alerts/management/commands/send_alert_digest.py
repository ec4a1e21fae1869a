"""Mail each manager who chose one mail a day the alerts of the previous day at their
stores (each store's own local day). Run it once a day, early in the morning
(docs/DEPLOYMENT.md)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from alerts.mail import send_digests


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date must be a date as YYYY-MM-DD; got {text!r}") from None


class Command(BaseCommand):
    help = "Send the daily alert digest: the previous day's alerts, one mail per manager."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--date",
            type=str,
            help="The day to report (YYYY-MM-DD), in each store's time zone. "
            "Default: yesterday, each store's own.",
        )

    def handle(self, *args, **options) -> None:
        day = _day(options["date"]) if options["date"] else None
        sent, failed = send_digests(day=day)
        self.stdout.write(f"{sent} digest(s) sent.")
        if failed:
            raise CommandError(f"{failed} digest(s) could not be sent; see the log.")
