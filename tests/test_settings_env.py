"""The environment readers in cashdrawer/env.py, and the database the suite runs on."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cashdrawer.env import env_bool, env_int, env_list, env_str

NAME = "CASHDRAWER_TEST_SETTING"


@pytest.fixture(autouse=True)
def _unset(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)


def test_env_str(monkeypatch):
    assert env_str(NAME) is None
    assert env_str(NAME, "fallback") == "fallback"
    monkeypatch.setenv(NAME, "value")
    assert env_str(NAME, "fallback") == "value"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_bool(NAME, default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_default_when_unset(default):
    assert env_bool(NAME, default=default) is default


@pytest.mark.parametrize("raw", ["2", "maybe", "ja", "truee", "-1"])
def test_env_bool_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_bool(NAME)


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("60", 60), (" 15 ", 15), ("-3", -3)])
def test_env_int_accepts(monkeypatch, raw, expected):
    monkeypatch.setenv(NAME, raw)
    assert env_int(NAME, 99) == expected


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_env_int_default_when_unset_or_blank(monkeypatch, raw):
    if raw is not None:
        monkeypatch.setenv(NAME, raw)
    assert env_int(NAME, 99) == 99


@pytest.mark.parametrize("raw", ["sixty", "1.5", "10s", "0x10"])
def test_env_int_rejects(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=NAME):
        env_int(NAME, 99)


def test_env_list(monkeypatch):
    assert env_list(NAME, ["a"]) == ["a"]
    monkeypatch.setenv(NAME, " example.com, ,www.example.com ,")
    assert env_list(NAME, ["a"]) == ["example.com", "www.example.com"]
    monkeypatch.setenv(NAME, "")
    assert env_list(NAME, ["a"]) == []


def test_suite_runs_on_postgresql():
    # The concurrency and locking behaviour under test is PostgreSQL's; SQLite would hide it.
    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", db["ENGINE"]
    assert db["CONN_MAX_AGE"] > 0


def _start_django(**env_overrides: str):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**env, "DJANGO_SETTINGS_MODULE": "cashdrawer.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _start_django(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_starts_with_a_secret_key():
    result = _start_django(DEBUG="0", SECRET_KEY="a-real-key-from-the-environment")
    assert result.returncode == 0, result.stderr


def test_a_bad_debug_value_stops_the_start():
    result = _start_django(DEBUG="maybe", SECRET_KEY="k")
    assert result.returncode != 0
    assert "DEBUG" in result.stderr
