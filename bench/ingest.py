"""Terminals posting cash sales: the app served as `make serve` serves it, beside the
reference app (bench/reference) under the same gunicorn settings and beside raw psycopg,
all on the same PostgreSQL, with the same load client (bench/load.py).

Registers of a location of the bench's own ("Bench terminals"): 32 for the spread (one
terminal each), one shared by 16 terminals. Their device tokens are issued by the service
behind `POST /api/v1/registers/{id}/device-tokens/` (issue_device_token), as the bench's
manager: 48 requests would only add a minute on a loaded machine. The first sale of each
register opens its session (in the warm-up, before the clock starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from bench import load, served
from bench.load import Run
from bench.reads import Readers, bench_location
from bench.reference import TABLES
from cashdrawer.authentication import issue_device_token
from cashdrawer.models import Membership, Register

SPREAD = 32  # registers with a terminal each (the curve goes to 32 terminals)
TERMINALS = 16


@dataclass
class Lanes:
    spread: list[tuple[str, int]]  # (token, register id), one per register
    one: list[tuple[str, int]]  # TERMINALS tokens of one register


@dataclass
class Results:
    runs: dict[str, list[Run]] = field(default_factory=dict)  # by scenario, repeated runs
    curve: dict[str, list[Run]] = field(default_factory=dict)  # app / reference by terminals

    def add(self, key: str, run: Run) -> None:
        self.runs.setdefault(key, []).append(run)


def registers(who: Readers) -> tuple[list[Register], Register]:
    location = bench_location()
    Membership.objects.get_or_create(
        user=who.manager, location=location, defaults={"role": Membership.Role.MANAGER}
    )

    def register(code: str, name: str) -> Register:
        found, _ = Register.objects.get_or_create(
            location=location,
            code=code,
            defaults={"name": name, "count_method": "total", "default_float": Decimal("0")},
        )
        return found

    spread = [register(f"lane-{n + 1:02d}", f"Lane {n + 1:02d}") for n in range(SPREAD)]
    return spread, register("shared", "Shared")


def issue(who: Readers, register: Register, name: str) -> str:
    return issue_device_token(register=register, by=who.manager, name=name).secret


def app_lanes(who: Readers) -> Lanes:
    spread, shared = registers(who)
    return Lanes(
        spread=[(issue(who, r, f"bench {r.code}"), r.pk) for r in spread],
        one=[(issue(who, shared, f"bench shared {n}"), shared.pk) for n in range(TERMINALS)],
    )


def reference_lanes(database_url: str) -> Lanes:
    """The reference app's registers (its own tables), created here with their tokens."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(TABLES)
        conn.execute("TRUNCATE bench_ref_sale, bench_ref_register RESTART IDENTITY")
        for n in range(SPREAD + 1):
            conn.execute(
                "INSERT INTO bench_ref_register (token, name) VALUES (%s, %s)",
                [f"ref-token-{n + 1}", f"Lane {n + 1}"],
            )
        rows = conn.execute("SELECT token, id FROM bench_ref_register ORDER BY id").fetchall()
    spread = [(token, pk) for token, pk in rows[:SPREAD]]
    shared_token, shared_id = rows[SPREAD]
    return Lanes(spread=spread, one=[(shared_token, shared_id)] * TERMINALS)


def measure(
    database_url: str,
    app: served.Served,
    who: Readers,
    *,
    seconds: float,
    repeats: int,
    curve_terminals: list[int],
    curve_seconds: float,
) -> Results:
    results = Results()
    lanes = app_lanes(who)
    ref_lanes = reference_lanes(database_url)
    spread_ids = [register for _token, register in ref_lanes.spread[:TERMINALS]]
    one_id = ref_lanes.one[0][1]
    tag = 0

    def show(run: Run) -> Run:
        print(f"  {run.name:44s} {run.summary()}", flush=True)
        return run

    def app_run(name: str, chosen: list[tuple[str, int]], length: float) -> Run:
        nonlocal tag
        tag += 1
        return show(load.http_sales(name, app.port, chosen, length, f"bench-{tag}"))

    with served.reference(database_url) as ref:

        def ref_run(name: str, chosen: list[tuple[str, int]], length: float) -> Run:
            nonlocal tag
            tag += 1
            return show(load.http_sales(name, ref.port, chosen, length, f"ref-{tag}"))

        print(
            f"  app: {len(app.workers())} gunicorn workers; reference:"
            f" {len(ref.workers())} workers; {TERMINALS} terminals, {seconds:.0f} s a run,"
            f" {repeats} run(s) each, interleaved",
            flush=True,
        )
        for repeat in range(repeats):
            print(f"  run {repeat + 1} of {repeats}", flush=True)
            results.add(
                "app_spread",
                app_run(f"app, {TERMINALS} registers", lanes.spread[:TERMINALS], seconds),
            )
            results.add(
                "reference_spread",
                ref_run(f"reference, {TERMINALS} registers", ref_lanes.spread[:TERMINALS], seconds),
            )
            results.add(
                "psycopg_spread",
                show(
                    load.psycopg_sales(
                        f"psycopg, {TERMINALS} registers", database_url, spread_ids, seconds
                    )
                ),
            )
            results.add(
                "app_one",
                app_run(f"app, {TERMINALS} terminals on one register", lanes.one, seconds),
            )
            results.add(
                "reference_one",
                ref_run(
                    f"reference, {TERMINALS} terminals on one register", ref_lanes.one, seconds
                ),
            )
            results.add("psycopg_one", show(load.psycopg_sales(
                f"psycopg, {TERMINALS} terminals on one register", database_url,
                [one_id] * TERMINALS, seconds)))  # fmt: skip
        print(f"  curve: terminals {curve_terminals}, each on its own register,"
              f" {curve_seconds:.0f} s each", flush=True)  # fmt: skip
        for terminals in curve_terminals:
            results.curve.setdefault("app", []).append(
                app_run(f"app, {terminals} terminals", lanes.spread[:terminals], curve_seconds)
            )
            results.curve.setdefault("reference", []).append(
                ref_run(
                    f"reference, {terminals} terminals", ref_lanes.spread[:terminals], curve_seconds
                )
            )
    return results
