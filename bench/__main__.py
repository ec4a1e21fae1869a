"""`python -m bench`, what `make bench` runs: build the year of a busy chain once, then
measure the services and selectors (bench/domain.py), then the pages, the report API and
the CSV downloads through whole requests (bench/web.py), on the same data."""

from __future__ import annotations

import os
import sys
import time

# The test Client of bench/web.py asks for host "testserver"; set before Django starts.
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

from bench import domain, web  # domain sets up Django


def main() -> int:
    start = time.perf_counter()
    domain.build()
    print("\nServices and selectors (called directly)")
    service = domain.measure()
    web.measure(service)
    print(f"\nTotal {time.perf_counter() - start:.0f} s, building the data included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
