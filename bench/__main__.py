"""`python -m bench`, what `make bench` runs (scripts/bench gives it a throwaway
PostgreSQL): build the chain (bench/data.py), start the app as `make serve` does, then
measure through real HTTP, each figure beside its reference in the same run:

1. the cash journal CSV of the whole range, beside COPY of the same join (bench/reads.py);
2. the overviews, the report API and the session list by discrepancy (bench/reads.py);
3. terminals posting sales, beside the reference app and raw psycopg (bench/ingest.py);
4. a session page of 2,000 transactions and its close (bench/reads.py);
5. verify_journal over the whole chain;
then write bench/results.json, BENCHMARKS.md and the plots (bench/report.py).

Environment: BENCH_QUICK=1 (5 locations, 30 days, short runs: a few minutes),
BENCH_LOCATIONS (default 50), BENCH_DAYS (default 365), BENCH_INGEST_SECONDS (20),
BENCH_RUNS (3: repeats of each ingest scenario), BENCH_VERIFY=0 to skip verify_journal.
"""

from __future__ import annotations

import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cashdrawer.settings")
django.setup()

from bench import data, ingest, reads, report, served  # noqa: E402
from sessions_app import journal  # noqa: E402


def number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def main() -> int:
    started = time.perf_counter()
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    locations = int(number("BENCH_LOCATIONS", 5 if quick else 50))
    days = int(number("BENCH_DAYS", 30 if quick else 365))
    ingest_seconds = number("BENCH_INGEST_SECONDS", 5 if quick else 20)
    repeats = int(number("BENCH_RUNS", 1 if quick else 3))
    curve = [1, 4, 16, 32] if quick else [1, 2, 4, 8, 16, 32]
    curve_seconds = 2 if quick else 5
    runs = 10 if quick else 30
    closes = 3 if quick else 8
    database_url = os.environ["DATABASE_URL"]
    measured: dict = {"quick": quick, "load_at_start": os.getloadavg()[0]}

    def stage(title: str) -> None:
        print(f"\n== {title}  [{time.perf_counter() - started:.0f} s]", flush=True)

    stage(f"Data: {locations} locations, {days} days")
    data.build(locations, days)
    measured["build_seconds"] = time.perf_counter() - started
    measured["data_size"] = report.data_size()
    size = measured["data_size"]
    print(f"  {size['sessions']:,} sessions, {size['transactions']:,} transactions", flush=True)

    with served.app(database_url) as app:
        measured["app_workers"] = len(app.workers())
        measured["app_threads"] = int(os.environ.get("WEB_THREADS") or 4)
        who = reads.readers()
        measured["chain"] = who.chain

        stage("Cash journal CSV, served, beside COPY")
        measured["journal"] = reads.journal(app, who, database_url)

        stage(f"Overviews, report API, session list (over HTTP, {runs} runs each)")
        measured["overviews"] = reads.overviews(app, who, runs)
        measured["overview_curve"] = reads.overview_curve(
            app, who, max(10, runs // 2), measured["overviews"]
        )

        stage("Sales posted by terminals, beside the reference app and raw psycopg")
        measured["ingest"] = ingest.measure(
            database_url,
            app,
            who,
            seconds=ingest_seconds,
            repeats=repeats,
            curve_terminals=curve,
            curve_seconds=curve_seconds,
        )

        stage("A session of 2,000 transactions: its page and its close")
        measured["session"] = reads.session_page_and_close(app, who, runs, closes)

    if os.environ.get("BENCH_VERIFY", "1") != "0":
        stage("verify_journal over the whole chain")
        start = time.perf_counter()
        verified = journal.verify()
        seconds = time.perf_counter() - start
        if verified.broken is not None:
            print(f"  BROKEN: {verified.broken}", flush=True)
        measured["verify_journal_closes_per_s"] = verified.closes / seconds
        print(
            f"  {verified.closes:,} closes in {seconds:.1f} s"
            f" ({verified.closes / seconds:,.0f} closes/s)",
            flush=True,
        )

    measured["machine"] = report.machine()
    measured["load_at_end"] = os.getloadavg()[0]
    measured["total_seconds"] = time.perf_counter() - started
    results = report.write(measured)
    stage("Written: BENCHMARKS.md, bench/results.json, bench/*.svg")
    for key in sorted(results):
        if key in REPORTED:
            print(f"  {key:40s} {results[key]:>12,.1f}")
    return 0


REPORTED = {
    "ingest_rps", "ingest_reference_rps", "ingest_psycopg_rps", "ingest_p99_ms",
    "journal_rows_per_s", "journal_copy_rows_per_s", "journal_first_byte_ms",
    "journal_memory_growth_mb", "overview_store_month_api_p50_ms",
    "overview_store_month_page_p50_ms", "overview_chain_year_page_p50_ms",
    "overview_queries_one_location", "overview_queries_all_locations",
    "session_page_2000_p50_ms",
}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
