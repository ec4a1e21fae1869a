"""Every environment variable the settings read is documented for the person deploying it:
in docs/DEPLOYMENT.md's table, and the security ones in docs/SECURITY.md too."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = (ROOT / "cashdrawer" / "settings.py").read_text()
READ = set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z_]+)"', SETTINGS))
SECURITY = {
    "HTTPS",
    "HSTS_SECONDS",
    "HSTS_INCLUDE_SUBDOMAINS",
    "HSTS_PRELOAD",
    "SESSION_IDLE_HOURS",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES",
    "USER_TOKEN_DAYS",
    "API_LOGIN_RATE",
    "API_BAD_TOKEN_RATE",
    "API_TOKEN_RATE",
}


def _table_rows(doc: str) -> set[str]:
    text = (ROOT / "docs" / doc).read_text()
    return set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.MULTILINE))


def test_the_settings_read_the_variables_this_test_knows():
    assert SECURITY <= READ
    assert len(READ) >= 20


def test_every_variable_is_in_the_deployment_guide():
    assert READ - _table_rows("DEPLOYMENT.md") == set()


def test_every_security_variable_is_on_the_security_page():
    assert SECURITY - _table_rows("SECURITY.md") == set()
