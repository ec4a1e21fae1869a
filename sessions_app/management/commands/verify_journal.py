"""Recompute every chain of closes and corrections and report the first broken link."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cashdrawer.models import Register
from sessions_app import journal


class Command(BaseCommand):
    help = (
        "Recompute the closing hash of every closed session and every correction, in "
        "closing-number order per register, and check that the numbers have no gap. "
        "Prints 'OK: N closes verified' and exits 0, or names the first session or "
        "correction whose number or hash does not match and exits 1."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--location", type=int, help="only this location's registers")
        parser.add_argument("--register", type=int, help="only this register")
        parser.add_argument(
            "--jobs",
            type=int,
            default=0,
            help="processes to share the registers among (default: one per core)",
        )

    def handle(
        self, *args, location: int | None, register: int | None, jobs: int, **options
    ) -> None:
        registers = None
        if location is not None or register is not None:
            chosen = Register.objects.all()
            if location is not None:
                chosen = chosen.filter(location_id=location)
            if register is not None:
                chosen = chosen.filter(pk=register)
            registers = list(chosen.values_list("pk", flat=True))
            if not registers:
                raise CommandError("No such register or location.")
        started = time.monotonic()
        result = journal.verify_in_parallel(registers, jobs=jobs)
        seconds = time.monotonic() - started
        broken = result.broken
        if broken is not None:
            name = Register.objects.filter(pk=broken.register_id).values_list("name", flat=True)
            what = "session" if broken.kind == "close" else "correction"
            number = "closing number" if broken.kind == "close" else "correction number"
            self.stderr.write(
                f"BROKEN: {what} {broken.record_id}, register {broken.register_id} "
                f"({name.first() or '?'}), {number} {broken.number}: {broken.reason}"
            )
            # After the closes and corrections verified before it.
            self.stderr.write(
                f"{result.closes} closes and {result.corrections} corrections before it verified."
            )
            raise SystemExit(1)
        self.stdout.write(
            f"OK: {result.closes} closes verified, {result.corrections} corrections verified "
            f"({seconds:.1f} s)."
        )
