"""What `make bench` leaves behind: bench/results.json (numbers only, for scripts),
BENCHMARKS.md at the repository's root (for people: the machine, each figure beside its
reference and target, two plots) and the plots as SVG files in bench/.

The section "What moved which figure" is bench/NOTES.md, included verbatim: written by
hand, since what changed in the code between two runs is not something a run can know.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from bench import plots
from bench.load import Run

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results.json"
MARKDOWN = ROOT / "BENCHMARKS.md"
NOTES = BENCH / "NOTES.md"
OVERVIEW_PLOT = "bench/overview-vs-sessions.svg"
INGEST_PLOT = "bench/ingest-vs-terminals.svg"


# --- the machine --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (postgres,) = cursor.fetchone()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": str(cores),
        "ram": ram,
        "postgresql": postgres,
        "python": platform.python_version(),
    }


def data_size() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM cashdrawer_location),"
            " (SELECT count(*) FROM cashdrawer_register),"
            " (SELECT count(*) FROM sessions_app_trackingsession),"
            " (SELECT count(*) FROM sessions_app_transaction),"
            " pg_database_size(current_database())"
        )
        locations, registers, sessions, transactions, size = cursor.fetchone()
    return {
        "locations": locations,
        "registers": registers,
        "sessions": sessions,
        "transactions": transactions,
        "database_bytes": size,
    }


# --- the table ------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    measured: float | None
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: str = "—"
    met: bool | None = None
    ratio_wanted: bool = True

    def cells(self) -> list[str]:
        def fmt(value: float | None) -> str:
            if value is None:
                return "—"
            if abs(value) >= 100:
                return f"{value:,.0f} {self.unit}"
            return f"{value:.1f} {self.unit}"

        ratio = "—"
        if self.ratio_wanted and self.measured is not None and self.reference:
            ratio = f"{self.measured / self.reference:.0%}"
        reference = fmt(self.reference)
        if self.reference is not None and self.reference_name:
            reference += f" ({self.reference_name})"
        met = {True: "yes", False: "**no**", None: "—"}[self.met]
        return [self.figure, fmt(self.measured), reference, ratio, self.target, met]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if not ordered:
        return 0
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def ingest_numbers(runs: dict[str, list[Run]]) -> dict[str, float]:
    """Per scenario: the median over runs of rps, p50, p99, and the min/max of rps."""
    numbers: dict[str, float] = {}
    for key, repeated in runs.items():
        rps = [run.rps for run in repeated]
        numbers[f"{key}_rps"] = _median(rps)
        numbers[f"{key}_rps_min"] = min(rps)
        numbers[f"{key}_rps_max"] = max(rps)
        numbers[f"{key}_p50_ms"] = _median([run.p50_ms for run in repeated])
        numbers[f"{key}_p99_ms"] = _median([run.p99_ms for run in repeated])
        numbers[f"{key}_p99_ms_max"] = max(run.p99_ms for run in repeated)
        numbers[f"{key}_failures"] = sum(sum(run.failures.values()) for run in repeated)
    return numbers


def collect(measured: dict) -> dict[str, float]:
    """The flat numbers of results.json from everything the run measured."""
    ingest = measured["ingest"]
    n = ingest_numbers(ingest.runs)
    journal = measured["journal"]
    views = measured["overviews"]
    session = measured["session"]
    results: dict[str, float] = {
        "ingest_rps": n["app_spread_rps"],
        "ingest_rps_min": n["app_spread_rps_min"],
        "ingest_rps_max": n["app_spread_rps_max"],
        "ingest_p50_ms": n["app_spread_p50_ms"],
        "ingest_p99_ms": n["app_spread_p99_ms"],
        "ingest_p99_ms_max": n["app_spread_p99_ms_max"],
        "ingest_failures": n["app_spread_failures"] + n["app_one_failures"],
        "ingest_reference_rps": n["reference_spread_rps"],
        "ingest_reference_p50_ms": n["reference_spread_p50_ms"],
        "ingest_reference_p99_ms": n["reference_spread_p99_ms"],
        "ingest_psycopg_rps": n["psycopg_spread_rps"],
        "ingest_psycopg_p99_ms": n["psycopg_spread_p99_ms"],
        "ingest_one_register_rps": n["app_one_rps"],
        "ingest_one_register_p50_ms": n["app_one_p50_ms"],
        "ingest_one_register_p99_ms": n["app_one_p99_ms"],
        "ingest_one_register_reference_rps": n["reference_one_rps"],
        "ingest_one_register_reference_p99_ms": n["reference_one_p99_ms"],
        "ingest_one_register_psycopg_rps": n["psycopg_one_rps"],
        "ingest_runs": len(ingest.runs["app_spread"]),
        "ingest_seconds_per_run": ingest.runs["app_spread"][0].seconds,
        "sale_single_terminal_p50_ms": ingest.curve["app"][0].p50_ms,
        "journal_rows": journal["served"].rows,
        "journal_rows_per_s": journal["served"].rows_per_s,
        "journal_seconds": journal["served"].seconds,
        "journal_copy_rows": journal["copy"].rows,
        "journal_copy_rows_per_s": journal["copy"].rows_per_s,
        "journal_copy_first_byte_ms": journal["copy"].first_byte_ms,
        "journal_first_byte_ms": journal["first_byte_chain_ms"],
        "journal_first_byte_store_month_ms": journal["first_byte_store_month_ms"],
        "journal_memory_growth_mb": journal["served"].growth_mb,
        "session_page_2000_p50_ms": session["page"].p50_ms,
        "session_page_2000_p99_ms": session["page"].p99_ms,
        "session_page_2000_queries": session["page"].queries,
        "session_close_2000_p50_ms": session["close"].p50_ms,
        "session_close_2000_p99_ms": session["close"].p99_ms,
        "session_close_2000_runs": session["close"].runs,
    }
    for key, figure in views.items():
        name = f"overview_{key}"
        results[f"{name}_p50_ms"] = figure.p50_ms
        results[f"{name}_p99_ms"] = figure.p99_ms
        results[f"{name}_queries"] = figure.queries
        results[f"{name}_sessions"] = figure.sessions
    results["overview_queries_one_location"] = views["store_year_page"].queries
    results["overview_queries_all_locations"] = views["chain_year_page"].queries
    results["overview_runs"] = views["store_month_page"].runs
    for key in (
        "verify_journal_closes_per_s",
        "build_seconds",
        "total_seconds",
        "load_at_start",
        "load_at_end",
    ):
        if key in measured:
            results[key] = measured[key]
    return {key: round(float(value), 3) for key, value in results.items()}


def rows(r: dict[str, float], measured: dict) -> list[Row]:
    views = measured["overviews"]
    page_keys = [k for k in views if k.startswith("store_year_list_") and k != "store_year_list_1"]
    deep = views[page_keys[0]] if page_keys else None
    return [
        Row("ingest, 16 terminals on 16 registers: req/s", r["ingest_rps"], "req/s",
            r["ingest_reference_rps"], "reference app", "≥ 80 % of reference",
            r["ingest_rps"] >= 0.8 * r["ingest_reference_rps"]),
        Row("ingest, 16 registers: req/s against raw psycopg", r["ingest_rps"], "req/s",
            r["ingest_psycopg_rps"], "psycopg lock+insert"),
        Row("ingest, 16 registers: p50", r["ingest_p50_ms"], "ms",
            r["ingest_reference_p50_ms"], "reference app"),
        Row("ingest, 16 registers: p99", r["ingest_p99_ms"], "ms",
            r["ingest_reference_p99_ms"], "reference app", "< 50 ms", r["ingest_p99_ms"] < 50),
        Row("ingest, 16 terminals on one register: req/s", r["ingest_one_register_rps"],
            "req/s", r["ingest_one_register_reference_rps"], "reference app"),
        Row("ingest, 16 terminals on one register: p99", r["ingest_one_register_p99_ms"], "ms",
            r["ingest_one_register_reference_p99_ms"], "reference app"),
        Row("a sale, one terminal alone: p50", r["sale_single_terminal_p50_ms"], "ms"),
        Row("journal CSV, whole range, all locations: rows/s", r["journal_rows_per_s"],
            "rows/s", r["journal_copy_rows_per_s"], "COPY of the same join",
            "≥ 50 % of COPY", r["journal_rows_per_s"] >= 0.5 * r["journal_copy_rows_per_s"]),
        Row("journal CSV, whole range, all locations: first byte", r["journal_first_byte_ms"],
            "ms", r["journal_copy_first_byte_ms"], "COPY", "< 200 ms",
            r["journal_first_byte_ms"] < 200),
        Row("journal CSV, one location, a month: first byte",
            r["journal_first_byte_store_month_ms"], "ms", None, "", "< 200 ms",
            r["journal_first_byte_store_month_ms"] < 200),
        Row("journal CSV: worker memory growth", r["journal_memory_growth_mb"], "MB",
            target="< 64 MB", met=r["journal_memory_growth_mb"] < 64),
        Row("report API, one location, a month: p50", r["overview_store_month_api_p50_ms"], "ms",
            target="≤ 20 ms", met=r["overview_store_month_api_p50_ms"] <= 20),
        Row("report API, one location, a year: p50", r["overview_store_year_api_p50_ms"], "ms",
            r["overview_store_month_api_p50_ms"], "a month", "≤ 20 ms",
            r["overview_store_year_api_p50_ms"] <= 20),
        Row("overview page, one location, a month: p50", r["overview_store_month_page_p50_ms"],
            "ms", target="≤ 40 ms", met=r["overview_store_month_page_p50_ms"] <= 40),
        Row("overview page, one location, a year: p50", r["overview_store_year_page_p50_ms"],
            "ms", r["overview_store_month_page_p50_ms"], "a month", "≤ 40 ms",
            r["overview_store_year_page_p50_ms"] <= 40),
        Row(f"overview page, all {len(measured['chain'])} locations, a year: p50",
            r["overview_chain_year_page_p50_ms"], "ms", r["overview_store_year_page_p50_ms"],
            "one location", "≤ 60 ms", r["overview_chain_year_page_p50_ms"] <= 60),
        Row("overview page: SQL queries, all locations", r["overview_queries_all_locations"],
            "queries", r["overview_queries_one_location"], "one location",
            "no more than one location's",
            r["overview_queries_all_locations"] <= r["overview_queries_one_location"]),
        Row("session list by discrepancy, one location, a year, page 1: p50",
            r["overview_store_year_list_1_p50_ms"], "ms"),
        Row(f"{deep.name if deep else 'deep page'}: p50", deep.p50_ms if deep else None, "ms",
            r["overview_store_year_list_1_p50_ms"], "page 1"),
        Row("session list by discrepancy, all locations, a year, page 50: p50",
            r["overview_chain_year_list_50_p50_ms"], "ms",
            r["overview_chain_year_list_1_p50_ms"], "page 1"),
        Row("session page, open, 2,000 transactions: p50", r["session_page_2000_p50_ms"], "ms",
            target="≤ 40 ms", met=r["session_page_2000_p50_ms"] <= 40),
        Row("close of that session (API POST): p50", r["session_close_2000_p50_ms"], "ms",
            target="≤ 40 ms", met=r["session_close_2000_p50_ms"] <= 40),
    ]  # fmt: skip


# --- the plots ---------------------------------------------------------------------------------


def write_plots(measured: dict) -> None:
    curve = measured["overview_curve"]
    overview = plots.chart(
        "Overview page: p50 against sessions in range",
        "sessions in the range (log scale)",
        "p50 (ms)",
        {"overview page": [(f.sessions, f.p50_ms) for f in curve if f.sessions]},
        log_x=True,
        width=560,
        height=320,
    )
    (ROOT / OVERVIEW_PLOT).write_text(plots.svg(overview, width=560, height=320))
    ingest = measured["ingest"].curve
    series_rps = {name: [(run.terminals, run.rps) for run in runs] for name, runs in ingest.items()}
    series_p99 = {
        name: [(run.terminals, run.p99_ms) for run in runs] for name, runs in ingest.items()
    }
    left = plots.chart(
        "Sales posted: requests/s", "concurrent terminals", "req/s", series_rps, log_x=True
    )
    right = plots.chart(
        "Sales posted: p99 latency", "concurrent terminals", "p99 (ms)", series_p99,
        log_x=True, x=460,
    )  # fmt: skip
    (ROOT / INGEST_PLOT).write_text(plots.svg(left, right, width=900))


# --- the files ---------------------------------------------------------------------------------


def write(measured: dict) -> dict[str, float]:
    results = collect(measured)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    write_plots(measured)
    size = measured["data_size"]
    info = measured["machine"]
    table = rows(results, measured)
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/report.py): every figure beside what the stack itself",
        "does on the same data in the same run. Do not edit by hand, except through",
        "bench/NOTES.md (the last section). Figures for scripts: bench/results.json.",
        "",
        f"- **Date**: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        f"{' (BENCH_QUICK=1: a quick look, not the full size)' if measured['quick'] else ''}",
        f"- **Machine**: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM;"
        f" PostgreSQL {info['postgresql']} (a throwaway server on a unix socket, fsync off);"
        f" Python {info['python']}; load average (1 min) {measured['load_at_start']:.1f} at"
        f" the start, {measured['load_at_end']:.1f} at the end (other work on the machine"
        " slows every figure; the ratios, measured in the same run, suffer least)",
        f"- **Data**: {size['locations']:,} locations, {size['registers']:,} registers,"
        f" {size['sessions']:,} sessions, {size['transactions']:,} transactions"
        f" ({size['database_bytes'] / 2**30:.2f} GiB database), built in"
        f" {measured.get('build_seconds', 0):.0f} s; the whole run took"
        f" {measured.get('total_seconds', 0) / 60:.1f} min",
        f"- **Servers**: the app as `make serve` runs it (scripts/serve, gunicorn"
        f" {measured['app_workers']} gthread workers x {measured['app_threads']} threads);"
        " the reference app (bench/reference: DRF, one APIView that locks a row and inserts"
        " one) under the same gunicorn configuration; raw psycopg: one connection per"
        " terminal, `SELECT … FOR UPDATE` + `INSERT` + `COMMIT`.",
        f"- **Load client**: {results['ingest_runs']:.0f} run(s) of"
        f" {results['ingest_seconds_per_run']:.0f} s per scenario, interleaved; 16 threads"
        " with a kept-alive HTTP connection each (http.client), a device token and a new"
        " Idempotency-Key per sale, on the same 2 cores as the servers (it takes its share"
        " of them, from the app and the reference alike).",
        f"- **Spread**: ingest figures are the median over runs (min–max of req/s in"
        f" results.json as `_min`/`_max`); latencies of the pages are p50/p99 of"
        f" {results['overview_runs']:.0f} requests over HTTP on one kept-alive connection"
        f" after a warm-up; the close p99 is the slowest of"
        f" {results['session_close_2000_runs']:.0f}."
        " Query counts: one request through Django's test Client (CaptureQueriesContext).",
        "",
        "| figure | measured | reference | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in table]
    missed = [row.figure for row in table if row.met is False]
    lines += [
        "",
        f"Targets missed: {len(missed)} of {sum(row.met is not None for row in table)}"
        + (" — " + "; ".join(missed) if missed else "."),
        "",
        "## Overview time against the sessions in its range",
        "",
        f"![overview p50 against sessions]({OVERVIEW_PLOT})",
        "",
        "| range | sessions | p50 | p99 |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {f.name} | {f.sessions:,} | {f.p50_ms:.1f} ms | {f.p99_ms:.1f} ms |"
        for f in measured["overview_curve"]
    ]
    lines += [
        "",
        "## Sales posted against concurrent terminals (each on its own register)",
        "",
        f"![ingest against terminals]({INGEST_PLOT})",
        "",
        "| terminals | app req/s | app p50 | app p99 | reference req/s | reference p99 |",
        "|---|---|---|---|---|---|",
    ]
    curve = measured["ingest"].curve
    for app, ref in zip(curve["app"], curve["reference"], strict=True):
        lines.append(
            f"| {app.terminals} | {app.rps:,.0f} | {app.p50_ms:.1f} ms | {app.p99_ms:.1f} ms"
            f" | {ref.rps:,.0f} | {ref.p99_ms:.1f} ms |"
        )
    lines += ["", "## Every page measured", "", "| page | p50 | p99 | queries | sessions |"]
    lines += ["|---|---|---|---|---|"]
    for figure in [*measured["overviews"].values(), measured["session"]["page"]]:
        lines.append(
            f"| {figure.name} | {figure.p50_ms:.1f} ms | {figure.p99_ms:.1f} ms"
            f" | {figure.queries} | {'' if figure.sessions is None else f'{figure.sessions:,}'} |"
        )
    if "verify_journal_closes_per_s" in measured:
        lines += [
            "",
            f"`verify_journal` recomputed every close of the chain at"
            f" {measured['verify_journal_closes_per_s']:,.0f} closes/s.",
        ]
    notes = NOTES.read_text() if NOTES.exists() else "(bench/NOTES.md is missing.)\n"
    lines += [
        "",
        "## What moved which figure",
        "",
        "<!-- From bench/NOTES.md, verbatim: edit that file, not this section. -->",
        "",
        notes.rstrip(),
        "",
    ]
    MARKDOWN.write_text("\n".join(lines))
    return results
