"""Outages in the middle of a burst of sales: PostgreSQL restarted, and gunicorn's master
killed with SIGKILL and started again. Every answer is a 2xx or a 503 (never a 500), and
once the terminals have retried with their Idempotency-Keys, every sale is stored
exactly once and every session adds up.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.faults.started import group_alive, serving
from tests.faults.stores import Database, Postgres, assert_each_sale_stored_once, seed
from tests.faults.terminals import NO_ANSWER, Sale, Tally, cash_sales, post_sales, scaled, time_for
from tests.served import free_port

TERMINALS = 16  # each on a register of its own, in 2 stores
SALES = scaled(1_600, multiple=TERMINALS)
# Fewer than production's 5: the server starts three times in the kill test, and each
# worker takes seconds of CPU to start on a busy machine.
WORKERS = 3
DOWN_FOR = 3  # seconds PostgreSQL stays down
TIME = time_for(SALES) + 60  # and the outages
WORKERS_GONE = 40  # seconds the killed master's workers may take to finish and exit


class Burst:
    """post_sales in a thread of its own, so that the test can break things meanwhile."""

    def __init__(
        self, port: int, lanes: list[tuple[str, list[Sale]]], tally: Tally, keep_alive=True
    ) -> None:
        self.sales = [sale for _, sales in lanes for sale in sales]
        self.errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(port, lanes, tally, keep_alive), daemon=True, name="burst"
        )

    def _run(self, port: int, lanes, tally: Tally, keep_alive: bool) -> None:
        try:
            post_sales(port, lanes, tally, timeout=TIME, keep_alive=keep_alive)
        except BaseException as error:
            self.errors.append(error)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def settled(self) -> int:
        return sum(sale.final is not None for sale in self.sales)

    def wait_until(self, share: float, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.settled() < share * len(self.sales):
            assert time.monotonic() < deadline, f"only {self.settled()} sales settled"
            assert self._thread.is_alive(), self.errors
            time.sleep(0.05)

    def join(self) -> None:
        self._thread.join(TIME + 30)
        assert not self._thread.is_alive(), "the burst did not end"
        if self.errors:
            raise self.errors[0]


def _lanes(database: Database, prefix: str) -> list[tuple[str, list[Sale]]]:
    tills = seed(database, locations=2, registers=TERMINALS // 2, opening_float="100.00")
    rng = random.Random(prefix)
    return [
        (till.tokens[0], cash_sales(till.register, SALES // TERMINALS, prefix, rng))
        for till in tills
    ]


def _retried(sales: list[Sale]) -> dict[str, int]:
    """How the sales that needed more than one attempt ended."""
    retried = [sale for sale in sales if len(sale.attempts) > 1]
    return {
        "sales retried": len(retried),
        "recorded by a retry": sum(not sale.final.replayed for sale in retried),
        "replayed to a retry": sum(sale.final.replayed for sale in retried),
    }


def _answers_other_than_2xx_or_503(tally: Tally) -> dict[str, int]:
    return {
        status: n
        for status, n in tally.statuses.items()
        if status != NO_ANSWER and not status.startswith("2") and status != "503"
    }


@pytest.mark.faults(timeout=TIME + 90)
def test_a_database_restart_mid_burst_answers_2xx_or_503_and_stores_each_sale_once(
    database: Database, postgres: Postgres, report
):
    lanes = _lanes(database, "restart")
    tally = Tally("database restart")
    with serving(database.url, workers=WORKERS, threads=4) as server:
        tally.restart_clock()
        burst = Burst(server.port, lanes, tally).start()
        burst.wait_until(1 / 3)
        before = burst.settled()
        postgres.down()
        try:
            time.sleep(DOWN_FOR)
        finally:
            postgres.up()
        burst.join()
        tally.stop_clock()
        error_log = server.error_log()

    report(
        tally.figures(
            sales=f"{len(burst.sales):,} from {TERMINALS} terminals",
            settled_before_the_restart=before,
            postgresql_down_for=f"{DOWN_FOR} s",
            **_retried(burst.sales),
        )
    )
    assert _answers_other_than_2xx_or_503(tally) == {}, tally.figures()
    assert tally.count(503) > 0, "the restart did not reach a request"
    assert tally.count(NO_ANSWER) == 0, tally.figures()  # gunicorn itself kept answering
    assert_each_sale_stored_once(database, burst.sales)
    assert "Traceback" not in error_log
    assert " ERROR " not in error_log


@pytest.mark.faults(timeout=TIME + 90)
def test_the_master_killed_mid_burst_and_started_again_stores_each_sale_once(
    database: Database, report
):
    """The master alone is SIGKILLed: its workers finish the requests they hold and exit,
    and the server is started again on the same port. Then the whole server is SIGKILLed
    (as a final SIGKILL from systemd or the OOM killer does), cutting requests in the
    middle of their transactions, and started again. The terminals connect anew for each
    request, as a proxy in front does, so they meet the gap each time."""
    lanes = _lanes(database, "kill")
    tally = Tally("gunicorn killed")
    port = free_port()
    logs = []
    with serving(database.url, workers=WORKERS, threads=4, port=port) as first:
        tally.restart_clock()
        burst = Burst(port, lanes, tally, keep_alive=False).start()
        burst.wait_until(1 / 4)
        before_master = burst.settled()
        killed = time.monotonic()
        first.process.kill()
        first.process.wait(10)
        # Its workers notice they lost their parent, finish what they hold, and exit.
        while group_alive(first.process.pid) and time.monotonic() - killed < WORKERS_GONE:
            time.sleep(0.1)
        workers_gone = not group_alive(first.process.pid)
        orphans_lasted = time.monotonic() - killed
        logs.append(first.error_log())
    with serving(database.url, workers=WORKERS, threads=4, port=port) as second:
        back_after_master = time.monotonic() - killed
        burst.wait_until(2 / 4)
        before_all = burst.settled()
        killed = time.monotonic()
        second.kill()  # master and workers, in the middle of their requests
        second.process.wait(10)
        logs.append(second.error_log())
    with serving(database.url, workers=WORKERS, threads=4, port=port) as third:
        back_after_all = time.monotonic() - killed
        burst.join()
        tally.stop_clock()
        logs.append(third.error_log())

    report(
        tally.figures(
            sales=f"{len(burst.sales):,} from {TERMINALS} terminals, a connection per request",
            master_killed_after=f"{before_master} sales",
            its_workers_exited_after=f"{orphans_lasted:.1f} s",
            serving_again_after=f"{back_after_master:.1f} s",
            all_killed_after=f"{before_all} sales",
            serving_again_after_that=f"{back_after_all:.1f} s",
            **_retried(burst.sales),
        )
    )
    assert workers_gone, "the killed master's workers were still running"
    assert "Parent changed, shutting down" in logs[0]
    assert _answers_other_than_2xx_or_503(tally) == {}, tally.figures()
    assert tally.count(NO_ANSWER) > 0, "the kills did not reach a request"
    assert_each_sale_stored_once(database, burst.sales)
    for log in logs:
        assert "Traceback" not in log
        assert " ERROR " not in log
