"""gunicorn's configuration for Cashdrawer (`make serve`, scripts/serve).

Environment:
  HOST, PORT        where to listen (default 127.0.0.1:8000); a TLS proxy sits in front
  WEB_CONCURRENCY   worker processes (default 2 x CPU cores + 1)
  WEB_THREADS       threads per worker (default 4)
  GUNICORN_CMD_ARGS any other gunicorn option, e.g. "--graceful-timeout 60"

Each thread holds at most one database connection (Django keeps it CONN_MAX_AGE seconds
and checks it before reuse), so the app never opens more than
WEB_CONCURRENCY x WEB_THREADS connections to PostgreSQL: 5 x 4 = 20 on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

from gunicorn import glogging


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use
    except AttributeError:
        return os.cpu_count() or 1


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"serve: {name} must be a whole number of at least 1; got {raw!r}")
    return int(raw)


_host = os.environ.get("HOST", "").strip() or "127.0.0.1"
_port = _positive("PORT", 8000)

wsgi_app = "cashdrawer.wsgi:application"
chdir = str(Path(__file__).resolve().parent.parent)
proc_name = "cashdrawer"
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]

# Threads, not only processes: a streamed year of the cash journal keeps its thread busy
# for minutes, and a gthread worker still answers its heartbeat meanwhile (a sync worker
# would be killed after `timeout` seconds, and with it the download).
worker_class = "gthread"
workers = _positive("WEB_CONCURRENCY", 2 * _cores() + 1)
threads = _positive("WEB_THREADS", 4)
# Seconds a worker may stay silent (its main loop, not a request) before it is replaced.
timeout = 30
# SIGTERM (systemd stop, a deploy): stop accepting, let the requests in flight finish for
# up to this many seconds, then exit. A terminal whose request is cut off retries it
# with its Idempotency-Key.
graceful_timeout = 30
# Idle keep-alive connections from the proxy are kept this long.
keepalive = 5
# The heartbeat file lives in memory: a slow or full disk must not look like a hung worker.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# No control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is one per user, and
# two servers of one user (tests, a second instance) would fight over it.
control_socket_disable = True

# Access log on stdout, one line per request with its duration in ms; errors (and the
# app's log) on stderr. Behind a proxy, %(h)s is the proxy; X-Forwarded-For is the client.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'

HEALTH_PATHS = {"/healthz", "/readyz"}


class Logger(glogging.Logger):
    """The access log without the load balancer's successful probes (one every few
    seconds would drown the requests); a failed probe is still logged."""

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") in HEALTH_PATHS and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)


logger_class = Logger
