"""The data every figure is measured on: one function, `build(locations, days)`.

It runs `manage.py generate_chain` (sessions_app/chain.py): per location a main register
with two sub-registers and a standalone register, about two sessions per register a day
of about 60 transactions each, with adjustments, counts by denomination and by total,
discrepancies, uncounted sessions, late sales and corrections, every close sealed. 50
locations x 365 days is about 146,000 sessions and 8.7 million transactions, loaded with
COPY in one transaction. Every other step of the bench finds its stores, registers and
users in the database.
"""

from __future__ import annotations

import time

from django.core.management import call_command


def build(locations: int, days: int) -> None:
    """Migrate the empty database and fill it with `locations` stores x `days` days."""
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    print(f"  manage.py generate_chain --locations {locations} --days {days}", flush=True)
    call_command("generate_chain", locations=locations, days=days)
    print(f"  built in {time.perf_counter() - start:.0f} s", flush=True)
