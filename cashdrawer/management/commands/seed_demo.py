"""manage.py seed_demo: two demo stores with staff and a few weeks of sessions."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from cashdrawer import demo


class Command(BaseCommand):
    help = (
        "Create the demo stores (Amsterdam Centrum, Wien Mariahilf), their registers, the demo "
        f"users (password {demo.DEMO_PASSWORD!r}) and DAYS days of history ending today, all "
        "through the session services. Does nothing if the demo stores already exist."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=demo.DEFAULT_DAYS,
            help=f"Days of history including today (at least 2; default {demo.DEFAULT_DAYS}).",
        )

    def handle(self, *args, days: int, **options) -> None:
        if days < 2:
            raise CommandError("--days must be at least 2: one closed day and today.")
        started = time.monotonic()
        result = demo.seed_demo(days=days, log=self.stdout.write)
        if not result.created:
            self.stdout.write(
                "Demo data is already there (the demo stores exist); nothing was changed."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded in {time.monotonic() - started:.1f} s: "
                f"{result.locations} locations, {result.registers} registers, "
                f"{result.sessions} sessions ({result.open_sessions} open), "
                f"{result.transactions} transactions, {result.adjustments} adjustments, "
                f"{result.corrections} correction(s)."
            )
        )
