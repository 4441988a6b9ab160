"""Long commands say how far they are when their output is a file (issue 9: `nofx model train` ran over
8 minutes with no output): a line every NOFX_PROGRESS_SECONDS with the elapsed time and an ETA, and one
when it ends. Real commands in real processes, stdout and stderr both files."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from nofx.data.bundled import bundled_bars_path
from nofx.progress import Progress

STATUS = re.compile(r"\d[\d,]*/[\d,]+ \(\d+%\), elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d")


def run_to_files(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    env = {**os.environ, "NOFX_PROGRESS_SECONDS": "0"}  # every step: the test needs no long run
    with out.open("w") as o, err.open("w") as e:
        rc = subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], stdout=o, stderr=e, env=env,
                            timeout=600).returncode
    return rc, out.read_text(), err.read_text()


def test_backtest_off_a_terminal_prints_progress_lines_with_eta(tmp_path):
    rc, out, err = run_to_files(tmp_path, "backtest", "--strategy", "dual_ma", "--symbols", "600519.SH",
                                 "--start", "2019-01-01", "--end", "2019-12-31", "--params", "fast=5,slow=20,size=100")
    assert rc == 0, err
    lines = err.splitlines()
    assert lines[0].startswith("backtest dual_ma: 1/")
    assert any(STATUS.search(ln) for ln in lines), err
    assert re.match(r"backtest dual_ma: done [\d,]+/[\d,]+ in \d+:\d\d:\d\d", lines[-1])
    assert "Total return" in out and "ETA" not in out  # the results stay clean on stdout


def test_no_progress_prints_nothing(tmp_path):
    rc, _, err = run_to_files(tmp_path, "backtest", "--strategy", "dual_ma", "--symbols", "600519.SH",
                               "--start", "2019-01-01", "--end", "2019-03-31", "--no-progress")
    assert rc == 0 and err == ""


def test_status_eta_follows_the_pace_so_far():
    buf = io.StringIO()
    p = Progress("job", 400, stream=buf, interval=3600).start()
    p.update(100, note="2020-01-02")
    assert p.status(60.0) == "100/400 (25%), elapsed 0:01:00, ETA 0:03:00 [2020-01-02]"
    p.stop()
    assert buf.getvalue() == ""  # shorter than the interval: quiet
    p = Progress("job", 400, stream=buf, interval=0).start()
    p.update(100)
    p.stop()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("job: 100/400 (25%), elapsed 0:00:00")
    assert lines[1].startswith("job: done 100/400 in ")


def test_eta_ignores_the_set_up_before_the_first_step():
    now = [1000.0]
    p = Progress("job", 1000, stream=io.StringIO(), interval=3600, clock=lambda: now[0]).start()
    now[0] += 300  # five minutes reading data and building features before the first step
    p.update(10)
    now[0] += 10  # then 100 steps in 10 s
    p.update(110)
    assert p.status(310.0, now[0]) == "110/1,000 (11%), elapsed 0:05:10, ETA 0:01:29"
