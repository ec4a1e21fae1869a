"""manage.py prune_idempotency_keys [--days N]: delete idempotency records older than N days.

API.md promises terminals that a key is kept at least 30 days (they may be offline for
days and then send what they kept), so fewer than 30 days is refused.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cashdrawer.idempotency import KEEP_DAYS, prune


class Command(BaseCommand):
    help = f"Delete Idempotency-Key records older than --days (default {KEEP_DAYS}, minimum 30)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=KEEP_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        if days < KEEP_DAYS:
            raise CommandError(
                f"Keys are kept at least {KEEP_DAYS} days (API.md); --days {days} is too few."
            )
        deleted = prune(days=days)
        self.stdout.write(f"Deleted {deleted} idempotency record(s) older than {days} days.")
