"""A spread: 32 terminals on 32 registers of 8 stores post 20,000 sales at once through
gunicorn (cash and card sales, cash refunds, each with a receipt number and an
Idempotency-Key). Nothing answers 5xx, and each register's session keeps exactly the
totals of its rows.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from tests.faults.started import serving
from tests.faults.stores import Database, assert_each_sale_stored_once, seed, transaction_rows
from tests.faults.terminals import Sale, Tally, Terminal, post_sales, scaled, time_for

LOCATIONS, REGISTERS = 8, 4  # 32 registers, one terminal each
SALES = scaled(20_000, multiple=LOCATIONS * REGISTERS)
TIME = time_for(SALES)


def _mixed(register: int, count: int, rng: random.Random) -> list[Sale]:
    """75 % cash sales, 20 % card sales, 5 % cash refunds."""
    sales = []
    for n in range(count):
        draw = rng.random()
        if draw < 0.05:
            kind, method = "refund", "cash"
        else:
            kind, method = "sale", "cash" if draw < 0.8 else "card"
        top = 2000 if kind == "refund" else 9999
        body = {
            "register": register,
            "kind": kind,
            "payment_method": method,
            "amount": str(Decimal(rng.randint(1, top)) / 100),
            "external_id": f"receipt-{register}-{n:05d}",
        }
        sales.append(Sale(f"spread-{register}-{n:05d}", body))
    return sales


@pytest.mark.faults(timeout=TIME + 90)
def test_a_spread_over_32_registers_never_answers_5xx_and_each_register_adds_up(
    database: Database, report
):
    tills = seed(database, locations=LOCATIONS, registers=REGISTERS)
    rng = random.Random(20)
    per_register = SALES // len(tills)
    lanes = [(till.tokens[0], _mixed(till.register, per_register, rng)) for till in tills]
    sales = [sale for _, mine in lanes for sale in mine]
    tally = Tally("spread")

    with serving(database.url, workers=5, threads=4) as server:
        tally.restart_clock()
        post_sales(server.port, lanes, tally, timeout=TIME)
        tally.stop_clock()
        reader = Tally("reader")
        sessions = {
            till.register: Terminal(server.port, till.tokens[0], reader)
            .get(f"/api/v1/sessions/?register={till.register}")
            .data["results"]
            for till in tills
        }
        error_log = server.error_log()

    report(
        tally.figures(
            sales=f"{len(sales):,} on {len(tills)} registers of {LOCATIONS} stores",
            rows=f"{transaction_rows(database):,}",
        )
    )
    assert tally.server_errors == 0, tally.figures()
    assert tally.count("no answer") == 0, tally.figures()
    assert {sale.final.status for sale in sales} == {201}
    found = assert_each_sale_stored_once(database, sales)
    for till in tills:
        entry = found[till.register]
        (session,) = sessions[till.register]
        assert session["opened_automatically"] is True  # by the first sale (rule 2)
        assert Decimal(session["opening_float"]) == 0
        assert Decimal(session["expected_cash"]) == entry.cash_sales - entry.cash_refunds
        assert {m: Decimal(v) for m, v in session["sales_by_method"].items()} == entry.by_method
    assert "Traceback" not in error_log
