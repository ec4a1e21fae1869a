"""The served OpenAPI schema says exactly what the server accepts and answers: schemathesis,
with every check in every phase (examples, coverage, fuzzing, stateful), runs against the
app served on PostgreSQL and finds nothing.

It runs as a POS developer would run it, from the command line against a live server,
once as a manager (every operation) and once with a device token (the operations a
terminal may use). What it may not hold against the schema is in
tests/api/schemathesis_hooks.py, each with its reason; the test prints how often each
came up. Each run lasts its time budget (`MANAGER_SECONDS`, `DEVICE_SECONDS`): schemathesis
shares it among the phases and operations, sends the coverage phase's cases it has time for,
and goes on fuzzing to the end. `SCHEMATHESIS_FULL=1` lifts the budget: every coverage case
is sent once and the run ends when the examples are spent (about five minutes for the
manager's ~4,800 cases). Seeded: a failure shows the command and `curl` that reproduce it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cashdrawer.authentication import issue_device_token, issue_user_token
from cashdrawer.models import Denomination
from cashdrawer.money import CEILING_MAX
from sessions_app import services

pytestmark = pytest.mark.django_db(transaction=True)

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
PASSWORD = "s3cret-pass"  # what tests/conftest.py's make_user gives everyone
PHASES = "examples,coverage,fuzzing,stateful"
FULL = os.environ.get("SCHEMATHESIS_FULL") == "1"
# Each run spends exactly this, with every phase run on every operation (2 busy cores): two
# minutes for the manager's 35 operations, one for the device's 14. Measured with these
# budgets and without any: the manager's run 123 s and 1,490 requests / 279 s and 4,797;
# the device's 62 s and 766 / 85 s and 1,417.
MANAGER_SECONDS = 120
DEVICE_SECONDS = 60
DEVICE_OPERATIONS = r"^/api/v1/(sessions|transactions|denominations)/|^/api/v1/registers/\{id\}/$"


@pytest.fixture(autouse=True)
def _rates_a_fuzzer_does_not_trip(settings, monkeypatch):
    """Schemathesis sends thousands of requests from one address, many of them logins
    with made-up passwords: the login rate and the lockout (tested in tests/test_security.py)
    would answer 429 to most of them and leave the rest of the API untested. Here they are
    set far above what a run sends; everything else is as served."""
    from cashdrawer.throttling import LoginRateThrottle

    monkeypatch.setitem(LoginRateThrottle.THROTTLE_RATES, "login", "100000/min")
    monkeypatch.setitem(LoginRateThrottle.THROTTLE_RATES, "bad_token", "100000/min")
    settings.AXES_FAILURE_LIMIT = 100_000


@pytest.fixture
def store(
    shipped_denominations, location, register, counted_register, main_register, sub_a, manager
) -> dict[str, list]:
    """A store as it trades: sessions open and closed on a register of every kind, and the
    ids of what it holds, for the run to use beside the ids it makes up.

    Its ceiling is the widest one the schema allows, so that an amount the schema admits
    is refused only for what it depends on (a count's total, the drawer's cash)."""
    location.max_amount = CEILING_MAX
    location.save()
    closed = services.open_session(register=register, opening_float="150.00", by=manager)
    sale = services.record_transaction(
        register=register, kind="sale", payment_method="cash", amount="12.50", by=manager
    ).transaction
    services.close_session(session=closed, counted="162.50", by=manager)
    sessions = [
        closed,
        services.open_session(register=register, opening_float="162.50", by=manager),
        services.open_session(
            register=counted_register,
            opening_counts=[{"value": "50.00", "quantity": 2}],
            by=manager,
        ),
        services.open_session(register=main_register, opening_float="0", by=manager),
    ]
    services.record_transaction(
        register=sub_a, kind="sale", payment_method="card", amount="8.00", by=manager
    )
    device_token = issue_device_token(register=counted_register, by=manager).token
    return {
        "locations": [location.pk],
        "registers": [r.pk for r in (register, counted_register, main_register, sub_a)],
        "sessions": [session.pk for session in sessions],
        "transactions": [sale.pk],
        "device_tokens": [device_token.pk],
        "payment_methods": ["cash", "card"],
        "denominations": [
            str(value)
            for value in Denomination.objects.filter(currency=location.currency).values_list(
                "value", flat=True
            )
        ],
        "usernames": [manager.username],
        "passwords": [PASSWORD],
    }


# Where the run takes a value the database holds, and how often (else it makes one up).
BINDINGS = {
    "body.register": "registers",
    "body.location": "locations",
    "body.main_register": "registers",
    "body.payment_method": "payment_methods",
    "body.counts[*].value": "denominations",
    "body.opening_counts[*].value": "denominations",
    "body.username": "usernames",
    "body.password": "passwords",
}
PATH_IDS = {
    r"^/api/v1/locations/": "locations",
    r"^/api/v1/registers/": "registers",
    r"^/api/v1/sessions/": "sessions",
    r"^/api/v1/transactions/": "transactions",
    r"^/api/v1/device-tokens/": "device_tokens",
}


def _config(tmp_path: Path, store: dict, *, max_examples: int, max_time: int) -> Path:
    """A schemathesis.toml: bounds, the hooks, and the values the database holds (so that
    most valid requests get past what depends on it; the rest still run, and what they
    meet is in schemathesis_hooks.STATE_RULES)."""
    lines = [
        f"hooks = {json.dumps(str(HOOKS))}",
        "seed = 8",
        "workers = 1",
        *([] if FULL else [f"max-time = {max_time}"]),
        "color = false",
        "[cache]",
        "enabled = false",
        "[generation]",
        f"max-examples = {max_examples}",
        'database = "none"',
    ]
    for name, values in store.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    lines.append("[parameters]")
    for parameter, name in BINDINGS.items():
        lines.append(f'"{parameter}" = {{ dictionary = "{name}", probability = 0.8 }}')
    for path, name in PATH_IDS.items():
        lines += [
            "[[operations]]",
            f"include-path-regex = {json.dumps(path)}",
            f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = 0.8 }} }}',
        ]
    config = tmp_path / "schemathesis.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _schemathesis(live_server, config: Path, env: dict, *extra: str) -> tuple[int, str, float]:
    started = time.monotonic()
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            f"{live_server.url}/api/schema/?format=json",
            "--url",
            live_server.url,
            "--checks",
            "all",
            "--phases",
            PHASES,
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=None if FULL else 300,
        env={**os.environ, **env},
        cwd=config.parent,
    )
    return run.returncode, run.stdout + run.stderr, time.monotonic() - started


def _env(tmp_path: Path, token: str, user) -> dict[str, str]:
    """For the hooks: the run's token, a login for tokens to revoke, where to log."""
    return {
        "LIVE_TOKEN": token,
        "LIVE_USERNAME": user.username,
        "LIVE_PASSWORD": PASSWORD,
        "LIVE_FORGIVEN": str(tmp_path / "forgiven.jsonl"),
    }


def _report(output: str, seconds: float, tmp_path: Path) -> None:
    """The run's summary, and how often each refusal the hooks forgive came up."""
    forgiven = tmp_path / "forgiven.jsonl"
    lines = forgiven.read_text().splitlines() if forgiven.exists() else []
    counts = Counter(
        f"{label} {status} {sorted(body)}"
        for label, status, body in (json.loads(line) for line in lines)
    )
    print(output, f"\n{seconds:.1f} s; forgiven as depending on state:")
    for what, count in counts.most_common():
        print(f"  {count:4d}  {what}")


def _assert_whole(output: str) -> None:
    """A run the time bound cut short would pass with nothing found: every phase ran, on
    every operation selected."""
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"^ +✅ +{phase} \(in ", output, re.MULTILINE), phase
    selected = re.search(r"Selected: (\d+)/", output)
    tested = re.search(r"Tested: (\d+)", output)
    assert selected and tested and selected.group(1) == tested.group(1), output


def test_schemathesis_finds_nothing_as_a_manager(live_server, store, manager, tmp_path):
    token = f"Token {issue_user_token(user=manager).secret}"
    config = _config(tmp_path, store, max_examples=6, max_time=MANAGER_SECONDS)
    status, output, seconds = _schemathesis(live_server, config, _env(tmp_path, token, manager))
    _report(output, seconds, tmp_path)
    assert status == 0, output
    _assert_whole(output)


def test_schemathesis_finds_nothing_as_a_device(live_server, store, register, manager, tmp_path):
    token = f"Token {issue_device_token(register=register, by=manager).secret}"
    config = _config(tmp_path, store, max_examples=4, max_time=DEVICE_SECONDS)
    status, output, seconds = _schemathesis(
        live_server,
        config,
        _env(tmp_path, token, manager),
        "--include-path-regex",
        DEVICE_OPERATIONS,
    )
    _report(output, seconds, tmp_path)
    assert status == 0, output
    _assert_whole(output)
