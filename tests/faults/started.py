"""What a fault test started outside the test process (servers in process groups of their
own), so that it is stopped whatever happens to the test.

A server is tracked while it runs: in this process, so that a test past its time limit
can kill it (conftest's watchdog), and as a file named by its process group in
$CASHDRAWER_FAULTS_GROUPS when scripts/test-faults set it, so that the script's clean-up
kills it even when pytest itself was killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.served import Server, serve

_lock = threading.Lock()
_groups: set[int] = set()


def _file(group: int) -> Path | None:
    folder = os.environ.get("CASHDRAWER_FAULTS_GROUPS")
    return Path(folder) / str(group) if folder else None


@contextlib.contextmanager
def tracked(group: int) -> Iterator[None]:
    """Track the process group `group` (a server's leader pid) until the block ends."""
    path = _file(group)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    with _lock:
        _groups.add(group)
    try:
        yield
    finally:
        with _lock:
            _groups.discard(group)
        if path is not None:
            path.unlink(missing_ok=True)


def kill_all() -> None:
    """SIGKILL every tracked process group (the watchdog's last resort)."""
    with _lock:
        groups = list(_groups)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def group_alive(group: int) -> bool:
    """Whether a process of the group still runs (a zombie waiting to be reaped does not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


@contextlib.contextmanager
def serving(database_url: str, **options: object) -> Iterator[Server]:
    """tests.served.serve (gunicorn through scripts/serve), tracked while it runs."""
    with serve(database_url, **options) as server, tracked(server.process.pid):
        yield server
