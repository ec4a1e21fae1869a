"""`make run` on PostgreSQL under 16 terminals: scripts/run (what `make run` runs after
installing the dependencies: migrate, seed_demo, then Django's development server with
DEBUG on) holds 16 terminals posting 100 sales each without a 5xx, and the server
connections it opens stay bounded by the requests in flight and are gone once they end.

The development server opens a thread per request; before, each thread kept a persistent
connection, and 16 terminals took PostgreSQL to its 100 connections within seconds.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.faults.started import tracked
from tests.faults.stores import (
    ConnectionWatch,
    Database,
    assert_each_sale_stored_once,
    manage,
    seed,
)
from tests.faults.terminals import (
    HOST,
    NO_ANSWER,
    Tally,
    Terminal,
    cash_sales,
    post_sales,
    scaled,
    time_for,
)
from tests.served import ROOT, free_port

TERMINALS = 16
SALES = scaled(1_600, multiple=TERMINALS)  # 100 per terminal
TIME = time_for(SALES)
SLACK = 4  # connections beyond one per terminal: a backend still ending, a check
START_TIMEOUT = 90
GONE_WITHIN = 5  # seconds after the last answer


@contextlib.contextmanager
def make_run(database: Database, port: int):
    """scripts/run on `port` against `database`, stopped on leaving; the path of its
    output (removed on leaving)."""
    environ = {**os.environ, "DATABASE_URL": database.url, "PORT": str(port)}
    environ.pop("DEBUG", None)  # scripts/run turns it on, as `make run` does
    with tempfile.NamedTemporaryFile(prefix="make-run-", suffix=".log", delete=False) as out:
        log = Path(out.name)
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # runserver and its autoreloader child, stopped as one
        )
    try:
        with tracked(process.pid):
            probe = Terminal(port, "", Tally("probe"), keep_alive=False)
            deadline = time.monotonic() + START_TIMEOUT
            while probe.get("/healthz").status != 200:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            yield log
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.unlink(missing_ok=True)


@pytest.mark.faults(timeout=TIME + START_TIMEOUT + 60)
def test_make_run_on_postgresql_holds_16_terminals_with_bounded_connections(
    database: Database, report
):
    # The demo data as `make run` loads it, but 2 days of it rather than 28 (seed_demo
    # takes 30-50 s for those); scripts/run's own seed_demo then finds it there.
    manage(database.url, "seed_demo", "--days", "2")
    tills = seed(database, locations=2, registers=TERMINALS // 2, opening_float="100.00")
    rng = random.Random(16)
    lanes = [
        (till.tokens[0], cash_sales(till.register, SALES // TERMINALS, "run", rng))
        for till in tills
    ]
    sales = [sale for _, mine in lanes for sale in mine]
    tally = Tally("make run")
    port = free_port()

    with make_run(database, port) as log, ConnectionWatch(database, every=0.02) as watch:
        tally.restart_clock()
        post_sales(port, lanes, tally, timeout=TIME)
        tally.stop_clock()
        ended = time.monotonic()
        while database.connections() and time.monotonic() - ended < GONE_WITHIN:
            time.sleep(0.05)
        left = database.connections()
        gone_after = time.monotonic() - ended
        during = [count for at, count in watch.samples if at <= ended]
        output = log.read_text(errors="replace")
    # runserver restarts when a source file changes: in a tree that others edit meanwhile,
    # requests then find it gone for a moment (and retry); nowhere else.
    reloads = output.count("changed, reloading.")

    report(
        tally.figures(
            sales=f"{len(sales):,} from {TERMINALS} terminals",
            server_connections=f"at most {max(during, default=0)} "
            f"(median {sorted(during)[len(during) // 2] if during else 0}, "
            f"{len(during)} samples)",
            connections_left=f"{left}, {gone_after:.1f} s after the last answer",
            reloads_for_edited_files=reloads,
        )
    )
    assert f"Starting Cashdrawer at http://{HOST}:{port}/" in output  # scripts/run, whole
    assert tally.server_errors == 0, tally.figures() + output[-3000:]
    if not reloads:
        assert tally.count(NO_ANSWER) == 0, tally.figures() + output[-3000:]
    assert_each_sale_stored_once(database, sales)
    assert max(during) <= TERMINALS + SLACK
    assert left == 0
    assert "Traceback" not in output
