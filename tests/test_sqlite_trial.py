"""`make run` uses SQLite, which stores decimals as binary floats: the services must stay
exact there too. The suite's database is PostgreSQL, so this runs in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sessions_close_and_add_up_exactly_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'trial.sqlite3'}",
        "DEBUG": "0",
        "SECRET_KEY": "sqlite-trial",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "sqlite" / "trial.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sqlite trial ok: 40 sessions" in result.stdout
