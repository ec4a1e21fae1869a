"""Raise the alerts that come from time passing: sessions open longer than
ALERT_OPEN_HOURS. Run it every ten minutes or so (docs/DEPLOYMENT.md); it is idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from alerts.services import raise_open_too_long_alerts


class Command(BaseCommand):
    help = "Raise an alert for each session open longer than ALERT_OPEN_HOURS (idempotent)."

    def handle(self, *args, **options) -> None:
        raised = raise_open_too_long_alerts()
        self.stdout.write(f"{len(raised)} alert(s) raised.")
