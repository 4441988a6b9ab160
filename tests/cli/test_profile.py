"""``nofx profile -- nofx ...`` writes a pyinstrument HTML profile of the command and keeps its exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NOFX = [sys.executable, "-m", "nofx.cli.main"]


def _run(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*NOFX, *args], cwd=tmp, capture_output=True, text=True, timeout=300)


def test_profile_of_a_tiny_command(tmp_path: Path) -> None:
    r = _run(tmp_path, "profile", "--out", "out/strategies.html", "--", "nofx", "strategies")
    assert r.returncode == 0, r.stderr
    assert "dual_ma" in r.stdout  # the profiled command's own output is kept
    page = (tmp_path / "out" / "strategies.html").read_text()
    assert "pyinstrument" in page and "nofx/cli" in page  # frames of the profiled nofx code
    assert "samples -> out/strategies.html" in r.stdout.replace("\n", "")


def test_profile_keeps_a_failing_commands_exit_status(tmp_path: Path) -> None:
    r = _run(tmp_path, "profile", "--out", "bad.html", "--", "nofx", "backtest", "--start", "not-a-date")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert (tmp_path / "bad.html").is_file()
    assert "Traceback" not in r.stderr


def test_profile_without_a_command_is_one_line(tmp_path: Path) -> None:
    r = _run(tmp_path, "profile")
    assert r.returncode == 2 and "after --" in r.stderr and "Traceback" not in r.stderr
