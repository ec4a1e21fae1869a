"""POS terminals for the fault tests: threads that post over real HTTP on loopback with a
device token and an Idempotency-Key, retry what a terminal may retry, and count every
attempt, so that a test can print its figures.

A terminal retries a 503 after its Retry-After, a 409 `idempotency_key_in_flight` after
a moment, and a request that got no answer at all (refused, reset, cut off, timed out)
after a moment, always with the same key and body. Anything else is its final answer.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

HOST = "127.0.0.1"
# Set when a test passes its time limit (conftest's watchdog): every terminal stops.
STOP = threading.Event()
NO_ANSWER = "no answer"
# A terminal waits this long for an answer before it gives up on the request (and retries).
REQUEST_TIMEOUT = 30
# A kept-alive connection idle this long is not used again: gunicorn closes idle ones
# after 5 s (its keepalive), and a POST sent just as it does so gets no answer, which
# would count against the server.
IDLE_REUSE = 2
IN_FLIGHT = "idempotency_key_in_flight"
PATH = "/api/v1/transactions/"
# The full figures (10,000 sales in the storm, 20,000 in the spread, ...) times this: by
# default all of them (scripts/test-faults); 0.1 for a run of a few minutes.
SCALE = float(os.environ.get("FAULTS_SCALE") or 1)

# The slowest rate (requests per second) a run may fall to on a loaded machine before its
# time limit stops it: 2 cores shared with other work serve some 20-60.
SLOWEST_RATE = 8


def time_for(requests: int) -> float:
    """Seconds a run of `requests` may take before it counts as hung."""
    return 30 + requests / SLOWEST_RATE


def scaled(count: int, *, multiple: int = 1) -> int:
    """`count` times FAULTS_SCALE, a whole multiple of `multiple` (at least one)."""
    return max(multiple, round(count * SCALE / multiple) * multiple)


class Stopped(Exception):
    """The test ran out of time while a terminal was still trying."""


@dataclass
class Answer:
    status: int | None  # None: no answer at all
    headers: dict[str, str]
    body: bytes
    seconds: float
    error: str = ""
    sent_at: float = 0  # time.monotonic() when the request left

    @property
    def answered_at(self) -> float:
        return self.sent_at + self.seconds

    @property
    def data(self):
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        try:
            data = self.data
        except ValueError:
            return None
        return data.get("code") if isinstance(data, dict) else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed") == "true"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __str__(self) -> str:
        if self.status is None:
            return f"{NO_ANSWER} ({self.error})"
        return f"{self.status} {self.body[:300]!r}"


class Tally:
    """Every attempt of a run, from all its terminals: status and latency."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.codes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.started = time.monotonic()
        self.ended: float | None = None

    def add(self, answer: Answer) -> None:
        with self._lock:
            if answer.status is None:
                self.statuses[NO_ANSWER] += 1
                self.errors[answer.error] += 1
                return
            self.statuses[str(answer.status)] += 1
            self.latencies.append(answer.seconds)
            if answer.status >= 400 and answer.code:
                self.codes[f"{answer.status} {answer.code}"] += 1

    def restart_clock(self) -> None:
        self.started = time.monotonic()

    def stop_clock(self) -> None:
        self.ended = time.monotonic()

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))

    def count(self, status: int | str) -> int:
        return self.statuses[str(status)]

    def figures(self, **extra: object) -> str:
        seconds = (self.ended or time.monotonic()) - self.started
        ordered = sorted(self.latencies)

        def percentile(p: float) -> str:
            if not ordered:
                return "-"
            return f"{ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000:.0f} ms"

        by_status = ", ".join(
            f"{status}: {n:,}" for status, n in sorted(self.statuses.items(), key=_status_order)
        )
        lines = [
            f"{self.name}: {self.requests:,} requests in {seconds:.1f} s = "
            f"{self.requests / seconds if seconds else 0:,.0f} req/s; latency p50 "
            f"{percentile(0.50)}, p99 {percentile(0.99)}, max {percentile(1.0)}",
            f"  by status: {by_status}",
        ]
        if self.codes:
            lines.append("  codes: " + ", ".join(f"{c}: {n:,}" for c, n in self.codes.items()))
        if self.errors:
            lines.append(
                "  no answer: " + ", ".join(f"{e}: {n:,}" for e, n in self.errors.most_common())
            )
        if extra:
            told = (f"{name.replace('_', ' ')}: {value}" for name, value in extra.items())
            lines.append("  " + "; ".join(told))
        return "\n".join(lines)


def _status_order(item: tuple[str, int]) -> tuple[int, str]:
    return (1, item[0]) if item[0] == NO_ANSWER else (0, item[0])


@dataclass
class Terminal:
    """One POS terminal: its own keep-alive connection to `port`, its device token."""

    port: int
    token: str
    tally: Tally
    keep_alive: bool = True
    timeout: float = REQUEST_TIMEOUT
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)
    _last_used: float = 0

    def request(
        self, method: str, path: str, body: object = None, key: str | None = None
    ) -> Answer:
        """One attempt; never raises for a network failure (that is an answer of None)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Host": HOST, "Authorization": f"Token {self.token}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        if not self.keep_alive:
            headers["Connection"] = "close"
        started = time.monotonic()
        if self._conn is not None and started - self._last_used > IDLE_REUSE:
            self.close()
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            self._conn.request(method, path, body=data, headers=headers)
            response = self._conn.getresponse()
            answer = Answer(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
                time.monotonic() - started,
                sent_at=started,
            )
            if response.will_close or not self.keep_alive:
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            answer = Answer(
                None, {}, b"", time.monotonic() - started, _describe(error), sent_at=started
            )
        self._last_used = time.monotonic()
        self.tally.add(answer)
        return answer

    def settle(self, path: str, body: object, key: str) -> tuple[Answer, list[Answer]]:
        """POST until the answer is final; (the final answer, every attempt)."""
        attempts: list[Answer] = []
        while True:
            if STOP.is_set():
                raise Stopped(f"stopped while posting {key}")
            answer = self.request("POST", path, body, key)
            attempts.append(answer)
            if answer.status == 503:
                _sleep(float(answer.headers.get("retry-after") or 1))
            elif answer.status == 409 and answer.code == IN_FLIGHT:
                _sleep(0.05)
            elif answer.status is None:
                _sleep(0.2)
            else:
                return answer, attempts

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError):
        return "reset"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed without answer"
    return type(error).__name__


def _sleep(seconds: float) -> None:
    if STOP.wait(seconds):
        raise Stopped("stopped while waiting to retry")


def run_all(jobs: list[Callable[[], None]], *, timeout: float) -> None:
    """Run each job in a thread of its own, all at once; wait for all of them (at most
    `timeout` seconds, then stop them) and raise the first error a job raised."""
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as error:  # a failed terminal fails the test, after the join
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        STOP.set()  # cleared again when the next test starts (conftest)
        for thread in threads:
            thread.join(REQUEST_TIMEOUT + 5)
        raise TimeoutError(
            f"the terminals did not finish within {timeout:.0f} s"
            + (f"; first error: {errors[0]!r}" if errors else "")
        )
    if errors:
        raise errors[0]


@dataclass
class Sale:
    """One sale a terminal must get recorded: its key and body, then what happened."""

    key: str
    body: dict
    final: Answer | None = None
    attempts: list[Answer] = field(default_factory=list)

    @property
    def register(self) -> int:
        return self.body["register"]

    @property
    def amount(self) -> Decimal:
        return Decimal(self.body["amount"])


def cash_sales(register: int, count: int, prefix: str, rng: random.Random) -> list[Sale]:
    return [
        Sale(
            f"{prefix}-{register}-{n:05d}",
            {
                "register": register,
                "kind": "sale",
                "payment_method": "cash",
                "amount": str(Decimal(rng.randint(1, 9999)) / 100),
            },
        )
        for n in range(count)
    ]


def post_sales(
    port: int,
    lanes: list[tuple[str, list[Sale]]],
    tally: Tally,
    *,
    timeout: float,
    keep_alive: bool = True,
) -> None:
    """One terminal per lane (a device token and its sales), all at once: each posts its
    sales in order, each one until its answer is final."""

    def lane(token: str, sales: list[Sale]) -> Callable[[], None]:
        def run() -> None:
            terminal = Terminal(port, token, tally, keep_alive=keep_alive)
            try:
                for sale in sales:
                    sale.final, sale.attempts = terminal.settle(PATH, sale.body, sale.key)
            finally:
                terminal.close()

        return run

    run_all([lane(token, sales) for token, sales in lanes], timeout=timeout)
