"""Bad input that arrives outside the options (environment variables, a date format, a missing password,
a server's database path): one line naming it, exit code 2, never a traceback or an "internal error"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _restore_environment():  # type: ignore[no-untyped-def]
    """`nofx serve` hands its options to uvicorn's workers through os.environ (it sets them before it checks
    the settings); run in this process, it must not leave them to the tests that follow."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_progress_interval_variable_is_checked(nofx_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for bad in ("abc", "-5", "nan", "inf"):
        monkeypatch.setenv("NOFX_PROGRESS_SECONDS", bad)
        line = nofx_cli("backtest", "--strategy", "dual_ma", "--no-progress").error_line()
        assert "NOFX_PROGRESS_SECONDS" in line and repr(bad) in line


def test_unknown_strptime_directive_names_the_format(nofx_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "dmy.csv"
    csv.write_text("date,symbol,open,high,low,close,volume\n02/01/2020,600519.SH,1,1,1,1,100\n")
    line = nofx_cli("backtest", "--strategy", "dual_ma", "--data", str(csv), "--date-format", "%Q",
                    "--no-progress").error_line()
    assert "'%Q'" in line and "dmy.csv" in line


@pytest.mark.parametrize("variable, value, words", [
    ("NOFX_API_SETTINGS", "{bad json", "is not valid JSON"),
    ("NOFX_API_SETTINGS", "[1, 2]", "must be a JSON object"),
    ("NOFX_AI_ENDPOINTS", "nope", "is not valid JSON"),
])
def test_serve_settings_from_the_environment(nofx_cli, monkeypatch, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             variable: str, value: str, words: str) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("NOFX_STATE_DIR", str(tmp_path / "state"))
    line = nofx_cli("serve", "--port", "0", "--db", f"sqlite:///{tmp_path / 's.db'}").error_line()
    assert variable in line and words in line


def test_serve_refuses_a_database_in_a_missing_folder(nofx_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = nofx_cli("serve", "--port", "0", "--db", str(tmp_path / "nowhere" / "x.db")).error_line()
    assert "folder of the SQLite database does not exist" in line


def test_user_create_without_a_password_on_stdin(tmp_path: Path) -> None:
    """A real process with stdin at end of file and no NOFX_PASSWORD (a script that forgot it)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "nofx.cli.main", "user", "create", "bob", "--db",
                        f"sqlite:///{tmp_path / 's.db'}"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "NOFX_PASSWORD" in r.stderr


@pytest.mark.parametrize("args, words", [
    (["--strategy", "nosuch"], "unknown strategy 'nosuch'"),
    (["--strategy", "dual_ma", "--data", "/nonexistent/bars.parquet"], "bars file not found"),
    (["--strategy", "dual_ma", "--params", "fast=30,slow=5"], "fast (30) must be shorter than slow (5)"),
])
def test_system_run_checks_its_input_before_starting_processes(nofx_cli, args, words) -> None:  # type: ignore[no-untyped-def]
    """`nofx system run` hands the run to child processes; a bad input must not surface only in a child's log
    (in a temporary folder deleted when the command ends)."""
    line = nofx_cli("system", "run", "--speed", "0", *args).error_line()
    assert words in line and "log" not in line


@pytest.mark.parametrize("args", [["decisions", "--trader", "t1"], ["compete", "--rescore", "run1"]])
def test_reading_commands_never_create_a_ledger(nofx_cli, tmp_path: Path, args) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "none.db"
    line = nofx_cli(*args, "--db", f"sqlite:///{db}").error_line()
    assert "no ledger database" in line and not db.exists()
