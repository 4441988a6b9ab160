"""What the commands print when their output is piped or written to a file (issue 9: tables cut at 80
columns, `PydanticUndefined` defaults, a raw parameter dict as the backtest header, a `datetime`
column the file calls `date`, "n/a" vs "not recovered" for the same drawdown)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from nofx.data.bundled import bundled_bars_path


def nofx(*args: str) -> subprocess.CompletedProcess:
    # stdout is a pipe here, as in `nofx ... > log.txt` or `nofx ... | less`
    return subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "TERM": "xterm"})


def test_piped_tables_are_whole_rows_not_cut_at_80_columns():
    r = nofx("strategies")
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout
    # the longest default stays on one line, in full
    weights = [ln for ln in r.stdout.splitlines() if "weights={" in ln]
    assert len(weights) == 1 and "low_volatility_20: 1.0}" in weights[0]
    assert max(len(ln) for ln in r.stdout.splitlines()) > 80


def test_backtest_header_is_one_line_of_parameters():
    r = nofx("backtest", "--strategy", "dual_ma", "--symbols", "600519.SH", "--start", "2020-01-01", "--end",
             "2020-06-30", "--params", "fast=5,slow=20,size=100", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "dual_ma: fast=5, slow=20, size=100, target_percent=None" in r.stdout.splitlines()
    assert "{'fast'" not in r.stdout and "'slow'" not in r.stdout


def test_data_info_names_the_time_column_as_the_file_does(tmp_path: Path):
    df = pd.read_parquet(bundled_bars_path())
    df = df[df.symbol == "600519.SH"].head(50).rename(columns={"datetime": "date"})
    path = tmp_path / "bars.csv"
    df.to_csv(path, index=False)
    r = nofx("data", "info", str(path))
    assert r.returncode == 0, r.stderr
    columns = next(ln for ln in r.stdout.splitlines() if " columns " in ln)
    assert "date" in columns.split("columns", 1)[1] and "datetime" not in columns


def test_unrecovered_drawdown_reads_the_same_in_every_table():
    from nofx.cli.backtest import comparison_table
    from nofx.report.console import metrics_table
    from nofx.report.tables import metrics_html
    from rich.console import Console

    metrics = {"max_drawdown": -0.2, "max_drawdown_start": "2021-02-10", "max_drawdown_trough": "2021-05-21",
               "max_drawdown_end": None}

    class Result:  # the two fields comparison_table reads
        def __init__(self) -> None:
            self.metrics = metrics

    console = Console(width=200, record=True)
    console.print(comparison_table({"a": Result(), "b": Result()}))
    console.print(metrics_table(metrics))
    text = console.export_text()
    assert "n/a" not in text
    assert text.count("not recovered") == 3
    assert "not recovered" in metrics_html(metrics)
