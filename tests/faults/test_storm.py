"""A storm on one register: 32 terminals post 10,000 cash sales to it through gunicorn,
and 10 % of the sales are sent again with the same Idempotency-Key: half of those at the
same moment as the first (two threads released together), half a little later.

Every sale is recorded once, the session's expected cash is its float plus the sum of
its rows (summed by SQL), every repeat gets the first answer, and nothing answers 5xx.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from decimal import Decimal
from functools import partial

import pytest

from cashdrawer.models import IdempotencyRecord
from sessions_app.models import Transaction
from tests.faults.started import serving
from tests.faults.stores import Database, seed, stored
from tests.faults.terminals import (
    PATH,
    REQUEST_TIMEOUT,
    Answer,
    Tally,
    Terminal,
    run_all,
    scaled,
    time_for,
)

CLIENTS = 32
SALES = scaled(10_000)
REPEATED = SALES // 10  # half at once with the first, half later
TIME = time_for(SALES + REPEATED)
FLOAT = Decimal("150.00")


def _at_once(first: Callable[[], None], second: Callable[[], None]) -> None:
    """Start both at the same moment, the second in a thread (and so on a connection) of
    its own; raise what either raised."""
    barrier = threading.Barrier(2)
    failed: list[BaseException] = []

    def run_second() -> None:
        try:
            barrier.wait(10)
            second()
        except BaseException as error:
            failed.append(error)

    helper = threading.Thread(target=run_second, daemon=True)
    helper.start()
    barrier.wait(10)
    try:
        first()
    finally:
        helper.join(REQUEST_TIMEOUT * 2)
    if failed:
        raise failed[0]


@pytest.mark.faults(timeout=TIME + 90)
def test_a_storm_on_one_register_records_each_sale_once_and_never_answers_5xx(
    database: Database, report
):
    (till,) = seed(database, tokens=CLIENTS, opening_float=str(FLOAT))
    rng = random.Random(8)
    amounts = [Decimal(rng.randint(1, 9999)) / 100 for _ in range(SALES)]
    repeated = rng.sample(range(SALES), REPEATED)
    together, later = set(repeated[: REPEATED // 2]), set(repeated[REPEATED // 2 :])
    finals: dict[int, list[Answer]] = defaultdict(list)  # sale -> final answer of each send
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)  # (sent, answered)
    waited = {"409 then replayed": 0}
    lock = threading.Lock()
    tally = Tally("storm")

    def sale(index: int) -> dict:
        return {
            "register": till.register,
            "kind": "sale",
            "payment_method": "cash",
            "amount": str(amounts[index]),
        }

    def key(index: int) -> str:
        return f"storm-{index:05d}"

    with serving(database.url, workers=5, threads=4) as server:

        def terminal(number: int):
            def run() -> None:
                own = Terminal(server.port, till.tokens[number], tally)
                twin = Terminal(server.port, till.tokens[number], tally)
                due: deque[tuple[int, int]] = deque()  # (sale, when to send it again)
                pace = random.Random(number)

                def send(term: Terminal, index: int) -> None:
                    answer, attempts = term.settle(PATH, sale(index), key(index))
                    with lock:
                        finals[index].append(answer)
                        spans[index].append((attempts[0].sent_at, answer.answered_at))
                        if len(attempts) > 1 and attempts[0].status == 409:
                            waited["409 then replayed"] += 1

                mine = range(number, SALES, CLIENTS)
                for step, index in enumerate(mine):
                    if index in together:
                        _at_once(partial(send, own, index), partial(send, twin, index))
                    else:
                        send(own, index)
                    if index in later:
                        due.append((index, step + pace.randint(3, 30)))
                    while due and due[0][1] <= step:
                        send(own, due.popleft()[0])
                while due:
                    send(own, due.popleft()[0])
                own.close()
                twin.close()

            return run

        tally.restart_clock()
        run_all([terminal(n) for n in range(CLIENTS)], timeout=TIME)
        tally.stop_clock()

        reader = Terminal(server.port, till.tokens[0], Tally("reader"))
        session = reader.get(f"/api/v1/sessions/{till.session}/").data
        error_log = server.error_log()

    rows = stored(database, [till.register])[till.register]
    (sql_sum,) = database.sql(
        f"SELECT coalesce(sum(amount), 0) FROM {Transaction._meta.db_table} WHERE register_id = %s",
        [till.register],
    )[0]
    (records,) = database.sql(f"SELECT count(*) FROM {IdempotencyRecord._meta.db_table}")[0]
    # A repeat was in flight with its first when each was sent before the other's answer.
    overlapped = sum(
        max(sent for sent, _ in spans[i]) < min(answered for _, answered in spans[i])
        for i in together
    )
    report(
        tally.figures(
            sales=f"{SALES:,}",
            repeats=f"{REPEATED:,} ({len(together)} at once with the first, of them "
            f"{overlapped} in flight together, {len(later)} later)",
            repeats_answered_409_first=waited["409 then replayed"],
            rows=f"{rows.rows:,}",
            sql_sum=sql_sum,
            expected_cash=session["expected_cash"],
        )
    )

    assert tally.server_errors == 0, tally.figures()
    assert tally.count("no answer") == 0, tally.figures()
    for index in range(SALES):
        answers = finals[index]
        assert len(answers) == (2 if index in together or index in later else 1)
        assert {a.status for a in answers} == {201}, [str(a) for a in answers]
        assert len({a.body for a in answers}) == 1, [str(a) for a in answers]  # the first's
        assert sum(not a.replayed for a in answers) == 1, [a.headers for a in answers]
    answered_ids = {finals[index][0].data["id"] for index in range(SALES)}
    assert overlapped >= 0.9 * len(together)  # else this storm did not test in-flight repeats

    assert rows.rows == SALES
    assert rows.ids == answered_ids
    assert sql_sum == sum(amounts)
    assert records == SALES
    (opened,) = rows.sessions
    assert opened["id"] == till.session and opened["status"] == "open"
    assert (opened["cash_sales"], opened["cash_sales_count"]) == (sql_sum, SALES)
    assert Decimal(session["expected_cash"]) == FLOAT + sql_sum
    assert Decimal(session["cash_sales"]) == sql_sum
    assert "Traceback" not in error_log
