"""Hooks of the live schemathesis run (tests/api/test_schema_live.py), loaded by the
schemathesis CLI from its configuration file. They run in the CLI's process, not pytest's.

Every check runs, in every phase. Two things are narrowed, each for a reason given here:

1. `positive_data_acceptance` sends requests the schema allows and expects them accepted.
   Some are refused with a 400 (or a 422) that no schema can foresee, because the rule
   depends on a record, on the clock or on an earlier request, or relates two values in a
   way OpenAPI cannot state. `filter_failure` drops exactly those failures, recognised by
   the field and message of each error in the body; any other refusal still fails.
2. `DELETE /auth/token/` revokes the token it is sent with. It gets a token of its own for
   each call (`TokenToRevoke`), so the run's token keeps working for every other request.
"""

from __future__ import annotations

import json
import os
import re

import requests
import schemathesis

# (field, message) of a 400 that depends on what the schema cannot know. A body is forgiven
# only when every one of its errors matches one of these.
STATE_RULES: list[tuple[str, str]] = [
    # What the location takes: its payment methods, its currency's coins and notes, and a
    # ceiling on one amount (the test's location has the widest ceiling, so only a count's
    # total, a sum of lines, can pass it).
    ("payment_method", r"is not a payment method of this store"),
    ("counts|opening_counts", r"is not a [A-Z]{3} denomination"),
    ("opening_counts", r"above this store's ceiling"),
    # Unique by value within a list of objects: JSON Schema has no word for it.
    ("counts|opening_counts", r"is counted twice"),
    # The register's own settings and the cash it holds.
    ("counted_cash", r"This register counts by denominations"),
    ("counts", r"A sub-register is not counted"),
    ("retained_float", r"cannot be more than|A sub-register keeps no float"),
    # Two values related: confirming a discrepancy takes a note.
    ("note", r"to confirm the discrepancy"),
    # The server's clock.
    ("occurred_at", r"lies in the future|days back"),
    # A device token's expiry lies ahead of the server's clock (a schema has no "now").
    ("expires_at", r"Give a moment in the future"),
    # Reports: the user's locations, and a range that relates two parameters.
    ("location", r"You read reports of several locations"),
    ("to", r"comes before the first day|at most three years"),
    # Registers and locations: what exists and is stored already (Register.clean,
    # Location.clean, unique names and codes). A PATCH meets the rules of a register's role
    # together with its stored values.
    ("location|main_register", r"does not exist"),
    ("non_field_errors", r"already exists"),
    ("name", r"already exists"),
    ("currency|timezone", r"can no longer change"),
    ("main_register", r"same location|is not a main register|needs a main register"),
    ("main_register", r"Only a sub-register has a main register|its own main register"),
    ("default_float", r"A sub-register has no default float|ceiling for one amount"),
    ("count_method", r"A main register must count by denominations"),
    ("role|main_register|cash_tracking", r"Close the register's open session"),
    ("role", r"still has sub-registers"),
    ("location", r"sub-registers are at another location|has sessions at its store"),
    # The server's time zone database.
    ("timezone", r"is not a known time zone"),
    # The token endpoint: which username and password exist.
    ("non_field_errors", r"Unable to log in with this username and password"),
]
STATE_CODES = {
    # 422: the Idempotency-Key was used before, for another request of this run.
    "idempotency_key_reused",
}


def _explained_by_state(status: int, body: object) -> bool:
    if status == 422:
        return isinstance(body, dict) and body.get("code") in STATE_CODES
    if status != 400 or not isinstance(body, dict) or not body:
        return False
    return all(
        isinstance(messages, list) and all(_matches(field, str(message)) for message in messages)
        for field, messages in body.items()
    )


def _matches(field: str, message: str) -> bool:
    return any(
        re.fullmatch(fields, field) and re.search(pattern, message)
        for fields, pattern in STATE_RULES
    )


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except a refused positive case that STATE_RULES explains; what is
    dropped is written to $LIVE_FORGIVEN, for the test to show."""
    if type(failure).__name__ != "RejectedPositiveData":
        return True
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    if not _explained_by_state(response.status_code, body):
        return True
    with open(os.environ["LIVE_FORGIVEN"], "a", encoding="utf-8") as log:
        log.write(json.dumps([case.operation.label, response.status_code, body]) + "\n")
    return False


TOKEN_ENDPOINT = "/api/v1/auth/token/"


@schemathesis.auth(retry_on=[]).skip_for(method="DELETE", path=TOKEN_ENDPOINT)
class RunToken:
    """The token of the run (a manager's or a device's), never refreshed: a 401 is an
    answer to check, not a reason to log in again."""

    def get(self, case, context) -> str:
        return os.environ["LIVE_TOKEN"]

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@schemathesis.auth(refresh_interval=None).apply_to(method="DELETE", path=TOKEN_ENDPOINT)
class TokenToRevoke:
    """DELETE /auth/token/ revokes the token it is sent with: a new one for each call."""

    def get(self, case, context) -> str:
        answer = requests.post(
            case.operation.schema.get_base_url() + TOKEN_ENDPOINT,
            json={"username": os.environ["LIVE_USERNAME"], "password": os.environ["LIVE_PASSWORD"]},
            timeout=30,
        )
        answer.raise_for_status()
        return f"Token {answer.json()['token']}"

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}
