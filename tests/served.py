"""The production server and a throwaway PostgreSQL, started from a test.

    with throwaway_postgres() as pg, serve(pg.url) as server:
        server.get("/readyz")        # (status, headers, body)
        pg.down(); ...; pg.up()      # a database restart, the server keeps running

`serve(database_url, workers=1, threads=2, port=None, **env)` runs scripts/serve (migrate,
then gunicorn) on 127.0.0.1 (a free port unless one is given) in a process group of its
own, waits for /healthz, and on leaving stops it with SIGTERM (SIGKILL after a bound).
`server.process` is gunicorn's master (scripts/serve execs it): `server.process.kill()`
kills the master alone (its workers finish what they hold, then exit), `server.kill()`
the whole group. Its access log (stdout) and error log (stderr) are files, read with
`server.access_log()` / `server.error_log()`.

`database_url(settings_dict)` turns a Django connection's settings (the test database of
this xdist worker, say) back into a DATABASE_URL for the server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60  # seconds; a loaded 2-core machine needs a few
STOP_TIMEOUT = 40  # past graceful_timeout (30 s)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    host = quote(settings_dict.get("HOST") or "", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    at = "@" if credentials else ""
    return f"postgres://{credentials}{at}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class Server:
    host: str
    port: int
    process: subprocess.Popen
    logs: Path
    timeout: float = 30

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        headers: dict | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a new connection: (status, headers with lowercase names, body)."""
        data = None if body is None else json.dumps(body).encode()
        sent = {"Host": self.host, **(headers or {})}
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return (
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None, timeout: float | None = None):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def post(self, path: str, body: object, headers: dict | None = None):
        return self.request("POST", path, body, headers)

    def access_log(self) -> str:
        return (self.logs / "access.log").read_text(errors="replace")

    def error_log(self) -> str:
        return (self.logs / "error.log").read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, as systemd stops it; the exit status (killed after STOP_TIMEOUT)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL to the master and its workers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _environment(database_url: str, port: int, workers: int, threads: int, env: dict) -> dict:
    environ = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "served-test-only-" + os.urandom(8).hex(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "WEB_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    environ.pop("DEBUG", None)
    environ.update({name: str(value) for name, value in env.items()})
    return environ


@contextlib.contextmanager
def serve(
    database_url: str,
    *,
    workers: int = 1,
    threads: int = 2,
    port: int | None = None,
    **env: object,
) -> Iterator[Server]:
    """scripts/serve on `port` (a free one by default), ready when this yields; stopped
    on leaving. Extra keyword arguments are environment variables (LOG_LEVEL="WARNING")."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="cashdrawer-serve-") as logs_dir:
        logs = Path(logs_dir)
        with open(logs / "access.log", "wb") as out, open(logs / "error.log", "wb") as err:
            process = subprocess.Popen(
                [str(ROOT / "scripts" / "serve")],
                env=_environment(database_url, port, workers, threads, env),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
            )
        server = Server("127.0.0.1", port, process, logs)
        try:
            _wait_until_up(server)
            yield server
        finally:
            server.terminate()
            server.kill()  # workers left behind by a killed master, if any


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"scripts/serve exited with {server.process.returncode}:\n"
                + server.error_log()[-3000:]
            )
        with contextlib.suppress(OSError):
            if server.get("/healthz")[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        "scripts/serve did not answer /healthz in time:\n" + server.error_log()[-3000:]
    )


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL server of its own (scripts/pg), to stop and start at will."""

    directory: Path
    url: str = field(default="")

    def down(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg"), "down", str(self.directory)], check=True)

    def up(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg"), "up", str(self.directory)], check=True)


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="cashdrawer-pg-"))
    script = str(ROOT / "scripts" / "pg")
    try:
        url = subprocess.run(
            [script, "start", str(directory)], check=True, capture_output=True, text=True
        ).stdout.strip()
        yield ThrowawayPostgres(directory, url)
    finally:
        subprocess.run([script, "stop", str(directory)], check=False, capture_output=True)
