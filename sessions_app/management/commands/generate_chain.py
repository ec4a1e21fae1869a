"""Fill an empty PostgreSQL database with a realistic chain at scale (sessions_app/chain.py)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_app import chain


class Command(BaseCommand):
    help = (
        "Generate a store chain with COPY: per location a main register with two "
        "sub-registers and a standalone register, a manager and cashiers, and for every day "
        "closed sessions with sales and refunds, adjustments, counts, discrepancies, "
        "late sales, corrections and the subs' shared closing, each close numbered and "
        "hashed (verify_journal passes). PostgreSQL only. It fills an EMPTY database only: "
        "with any location already present it refuses and changes nothing (use a fresh "
        "database, created and migrated). Everything is one transaction: Ctrl-C or a kill "
        "leaves nothing behind, and running it again starts afresh."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--locations", type=int, default=50, help="stores (default 50)")
        parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
        parser.add_argument(
            "--sessions-per-day",
            type=int,
            default=2,
            help="sessions per register and day, 1 to 6 (default 2)",
        )
        parser.add_argument(
            "--transactions",
            type=int,
            default=60,
            help="mean number of sales and refunds per session (default 60)",
        )
        parser.add_argument(
            "--end-date",
            type=dt.date.fromisoformat,
            default=None,
            help="the last day of the history, YYYY-MM-DD (default yesterday)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args, **options) -> None:
        verbosity = options["verbosity"]
        try:
            made = chain.generate(
                options["locations"],
                options["days"],
                sessions_per_day=options["sessions_per_day"],
                transactions=options["transactions"],
                end_date=options["end_date"],
                seed=options["seed"],
                progress=verbosity > 0,
                out=self.stderr._out,
            )
        except chain.ChainError as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            # The transaction rolled back as the exception left it: say so, not a traceback.
            self.stderr.write("\nInterrupted: nothing was stored; run it again to start afresh.")
            raise SystemExit(130) from None
        if verbosity > 0:
            seconds = made.pop("seconds")
            figures = ", ".join(
                f"{value:,} {name.replace('_', ' ')}" for name, value in made.items()
            )
            self.stdout.write(f"Generated {figures} in {seconds['total']:.0f} s ({seconds}).")
