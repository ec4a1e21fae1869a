"""Fixtures of the fault tests: the run's PostgreSQL server (one, with a migrated template;
a fresh database per test), a hard time limit per test, and the figures each test prints.

Every test here carries `@pytest.mark.faults(timeout=SECONDS)`; the normal suite leaves
them out (`-m "not faults"` in pyproject's addopts) and scripts/test-faults runs them.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import started, terminals
from tests.faults.stores import Database, Postgres
from tests.served import throwaway_postgres

HERE = Path(__file__).resolve().parent
DEFAULT_TIMEOUT = 120  # seconds, for a test that names none
# After the time limit the test is interrupted (KeyboardInterrupt, so every server and
# database is stopped on the way out); if that does not end it within this many seconds,
# its servers are killed and pytest exits at once.
GRACE = 30

_figures: list[str] = []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Before `-m` selects: whatever lives here is a fault test, marked or not.
    for item in items:
        if HERE in Path(item.path).parents and item.get_closest_marker("faults") is None:
            item.add_marker(pytest.mark.faults)


def pytest_terminal_summary(terminalreporter) -> None:
    if _figures:
        terminalreporter.section("fault tests: figures")
        for text in _figures:
            terminalreporter.write_line(text)


@pytest.fixture
def report(request) -> Iterator:
    """report(text): print a test's figures now and again in the run's summary."""
    plugins = request.config.pluginmanager
    writer = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")

    def say(text: str) -> None:
        _figures.append(text)
        if writer is None:
            return
        # Past the output capture, so that the figures show as the run goes too.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            writer.write_line("")
            for line in text.splitlines():
                writer.write_line(line)

    yield say


class Watchdog:
    def __init__(self, what: str, seconds: float, capture=None) -> None:
        self.what = what
        self.seconds = seconds
        self.capture = capture  # pytest's output capture, to write past it
        self.fired = False
        self._timers: list[threading.Timer] = []

    def start(self) -> None:
        self._arm(self.seconds, self._interrupt)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()

    def _arm(self, seconds: float, action) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _interrupt(self) -> None:
        self.fired = True
        with self._uncaptured():
            print(
                f"\n{self.what}: still running after its limit of {self.seconds:.0f} s; "
                "stopping it. Where every thread was:",
                file=sys.stderr,
                flush=True,
            )
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        terminals.STOP.set()
        self._arm(GRACE, self._kill)
        # A real signal, so that a main thread blocked in a system call wakes up too.
        os.kill(os.getpid(), signal.SIGINT)

    def _kill(self) -> None:
        with self._uncaptured():
            print(f"\n{self.what}: not stopped {GRACE} s later; killing it", file=sys.stderr)
            sys.stderr.flush()
        started.kill_all()
        os._exit(3)

    def _uncaptured(self):
        if self.capture is None:
            return contextlib.nullcontext()
        return self.capture.global_and_fixture_disabled()


@pytest.fixture(autouse=True)
def time_limit(request) -> Iterator[Watchdog]:
    marker = request.node.get_closest_marker("faults")
    seconds = (marker.kwargs.get("timeout") if marker else None) or DEFAULT_TIMEOUT
    terminals.STOP.clear()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    watchdog = Watchdog(request.node.nodeid, seconds, capture)
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.cancel()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for the run (scripts/pg, in $TMPDIR, which scripts/test-faults
    sets to a folder it cleans up whatever happens)."""
    with throwaway_postgres() as server:
        pg = Postgres(server)
        pg.migrate_template()
        yield pg


@pytest.fixture
def database(postgres: Postgres, request) -> Database:
    """A fresh, migrated database of this test's own."""
    label = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40]
    return postgres.new_database(label)
