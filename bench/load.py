"""The load client: terminals as threads, each with its own kept-alive HTTP connection
(http.client, no dependency), posting cash sales with a token and an Idempotency-Key for
a fixed time; and the same shape straight on PostgreSQL with psycopg.

One client for the app and the reference alike, so that the ratio of the two is fair: the
client runs on the same two cores as the servers and takes its share of them, which
lowers both figures alike. A request counts when its answer came; rps is answers per
second of the run, latency is from sending to the whole answer read.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg

HOST = "127.0.0.1"
PATH = "/api/v1/transactions/"
WARM_UP = 3  # sales per terminal before the clock starts (connections, sessions opened)
# A kept-alive connection idle this long is replaced before use: gunicorn closes idle ones
# after 5 s (its keepalive), and a request sent just then would fail (as the terminals of
# tests/faults do). It matters after the warm-up, while the slowest terminal warms up.
IDLE_REUSE = 2


@dataclass
class Run:
    """One timed run of `terminals` terminals."""

    name: str
    terminals: int
    registers: int
    seconds: float = 0
    latencies: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0

    def percentile_ms(self, p: float) -> float:
        if not self.latencies:
            return 0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(0.50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(0.99)

    def summary(self) -> str:
        failed = sum(self.failures.values())
        text = (
            f"{self.rps:7.0f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms"
            f"  ({self.requests:,} in {self.seconds:.1f} s)"
        )
        if failed:
            text += f"  FAILED {failed}: {dict(self.failures.most_common(3))}"
        return text


def _sale_body(register: int, n: int) -> bytes:
    amount = f"{n % 97 + 1}.{n % 100:02d}"
    return json.dumps(
        {"register": register, "kind": "sale", "payment_method": "cash", "amount": amount}
    ).encode()


def _run_threads(run: Run, jobs, seconds: float) -> Run:
    """Run every job(ready, start_at, out) in a thread; the clock starts once all are
    past their warm-up (at the barrier `ready`); `out` is (latencies, failures)."""
    ready = threading.Barrier(len(jobs) + 1)
    results: list[tuple[list[float], Counter]] = [([], Counter()) for _ in jobs]
    timing: dict[str, float] = {}

    go = threading.Event()

    def start_at() -> float:
        """When the clock started (all terminals warmed up); waits for it."""
        go.wait()
        return timing["start"]

    def guarded(job, out: tuple[list[float], Counter]) -> None:
        try:
            job(ready, start_at, out)
        except threading.BrokenBarrierError:
            pass
        except Exception as error:  # counted as a failure; the others are released
            out[1][f"{type(error).__name__}: {error}"[:120]] += 1
            ready.abort()

    threads = [
        threading.Thread(target=guarded, args=(job, results[n]), daemon=True)
        for n, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        ready.wait()
    timing["start"] = time.monotonic()
    go.set()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - timing["start"]
    for latencies, failures in results:
        run.latencies.extend(latencies)
        run.failures.update(failures)
    return run


def http_sales(
    name: str, port: int, lanes: list[tuple[str, int]], seconds: float, key_prefix: str
) -> Run:
    """One terminal per lane (token, register id), all posting sales for `seconds`."""
    run = Run(name, len(lanes), len({register for _token, register in lanes}))

    def job_for(number: int, token: str, register: int):
        def job(ready: threading.Barrier, start_at, out) -> None:
            latencies, failures = out
            headers = {
                "Host": HOST,
                "Authorization": f"Token {token}",
                "Content-Type": "application/json",
            }
            conn = http.client.HTTPConnection(HOST, port, timeout=60)
            n = 0
            last_used = time.monotonic()

            def post() -> tuple[int | None, float]:
                nonlocal conn, n, last_used
                n += 1
                headers["Idempotency-Key"] = f"{key_prefix}-{number}-{n}"
                sent = time.monotonic()
                if sent - last_used > IDLE_REUSE:
                    conn.close()  # gunicorn may be closing it (keepalive): a new one
                try:
                    conn.request("POST", PATH, body=_sale_body(register, n), headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if response.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException) as error:
                    conn.close()
                    failures[type(error).__name__] += 1
                    return None, time.monotonic() - sent
                finally:
                    last_used = time.monotonic()
                return status, time.monotonic() - sent

            try:
                for _ in range(WARM_UP):
                    status, _seconds = post()
                    if status not in (200, 201):
                        failures[f"warm-up {status}"] += 1
                ready.wait()
                deadline = start_at() + seconds
                while time.monotonic() < deadline:
                    status, took = post()
                    if status == 201:
                        latencies.append(took)
                    elif status is not None:
                        failures[str(status)] += 1
            finally:
                conn.close()

        return job

    jobs = [job_for(n, token, register) for n, (token, register) in enumerate(lanes)]
    return _run_threads(run, jobs, seconds)


def psycopg_sales(name: str, url: str, registers: list[int], seconds: float) -> Run:
    """One thread per register id given (repeat an id for terminals sharing it), each with
    its own connection: SELECT ... FOR UPDATE of the register's row, INSERT, COMMIT."""
    run = Run(name, len(registers), len(set(registers)))

    def job_for(register: int):
        def job(ready: threading.Barrier, start_at, out) -> None:
            latencies, failures = out
            with psycopg.connect(url) as conn:

                def sale(n: int) -> None:
                    with conn.transaction():
                        conn.execute(
                            "SELECT id FROM bench_ref_register WHERE id = %s FOR UPDATE",
                            [register],
                        )
                        conn.execute(
                            "INSERT INTO bench_ref_sale"
                            " (register_id, kind, payment_method, amount, idempotency_key)"
                            " VALUES (%s, 'sale', 'cash', %s, %s)",
                            [register, f"{n % 97 + 1}.50", f"raw-{register}-{n}"],
                        )

                for n in range(WARM_UP):
                    sale(n)
                ready.wait()
                deadline = start_at() + seconds
                n = WARM_UP
                while time.monotonic() < deadline:
                    n += 1
                    sent = time.monotonic()
                    try:
                        sale(n)
                    except psycopg.Error as error:
                        failures[type(error).__name__] += 1
                        continue
                    latencies.append(time.monotonic() - sent)

        return job

    return _run_threads(run, [job_for(register) for register in registers], seconds)


def median_of(values: list[float]) -> float:
    return statistics.median(values) if values else 0
