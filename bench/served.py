"""Servers the bench measures through real HTTP: the production server exactly as `make
serve` starts it (scripts/serve: migrate, then gunicorn with deploy/gunicorn.conf.py,
default workers and threads), and the reference app under the same gunicorn settings.

Both listen on a free port of 127.0.0.1, run in a process group of their own and are
stopped (SIGTERM, then SIGKILL) when the block ends. `Served.workers()` lists the
gunicorn workers' pids, `rss(pid)` reads one's resident memory.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    name: str
    port: int
    process: subprocess.Popen
    logs: Path

    def workers(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(child) for child in text.split()]

    def connection(self, timeout: float = 600) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def error_log(self) -> str:
        return (self.logs / "error.log").read_text(errors="replace")


def rss(pid: int) -> int:
    """Resident memory of process `pid` in bytes (0 once it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _environment(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "HOST": HOST,
        "PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        # Requests are counted by the load client; gunicorn's info log stays as in
        # production (one access line per request, to a file here).
    }
    env.pop("DEBUG", None)
    # Workers and threads as `make serve` picks them, unless the caller set them.
    env.update(extra)
    return env


@contextlib.contextmanager
def _run(name: str, command: list[str], env: dict[str, str], port: int) -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix=f"cashdrawer-bench-{name}-") as folder:
        logs = Path(folder)
        with open(logs / "access.log", "wb") as out, open(logs / "error.log", "wb") as err:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        served = Served(name, port, process, logs)
        try:
            _wait_until_up(served)
            yield served
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(40)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"{served.name} exited:\n{served.error_log()[-3000:]}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = served.connection(timeout=5)
            try:
                conn.request("GET", "/healthz", headers={"Host": HOST})
                if conn.getresponse().status == 200:
                    # Every worker booted, not only the first that answered.
                    time.sleep(1)
                    return
            finally:
                conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"{served.name} did not answer in time:\n{served.error_log()[-3000:]}")


@contextlib.contextmanager
def app(database_url: str) -> Iterator[Served]:
    """The production server, started as `make serve` starts it (scripts/serve)."""
    port = free_port()
    command = [str(ROOT / "scripts" / "serve")]
    with _run("app", command, _environment(database_url, port), port) as s:
        yield s


@contextlib.contextmanager
def reference(database_url: str) -> Iterator[Served]:
    """bench/reference under the same gunicorn configuration (deploy/gunicorn.conf.py:
    the same worker class, workers, threads, keep-alive), its app given on the command
    line in place of the config's wsgi_app."""
    port = free_port()
    env = _environment(database_url, port, DJANGO_SETTINGS_MODULE="bench.reference.settings")
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "--config",
        "deploy/gunicorn.conf.py",
        "bench.reference.wsgi:application",
    ]
    with _run("reference", command, env, port) as s:
        yield s
