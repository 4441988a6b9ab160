"""One validator for every reader of bars (issue 8 item 7, issue 9 item 1's bad values in bars files).

Each kind of bad row is shown on a small copy of the real bundled slice: ``nofx data check`` reports it,
and every command that reads bars refuses the file (one line, exit 2) or, with ``--drop-bad-rows``, drops
and lists the rows; none of them reaches the engine silently or as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import DROPPED_ATTR, read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.data.checks import IssueKind, check_bars
from nofx.domain.errors import DataError
from nofx.strategies.dual_ma import DualMAParams, DualMovingAverage

SYMS = ["600519.SH", "000001.SZ"]


def nofx(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nofx.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """Two real stocks, Feb-Apr 2021, in the file layout (``date`` column, ISO dates)."""
    df = pd.read_parquet(bundled_bars_path())
    df = df[df["symbol"].isin(SYMS) & (df["date"] >= "2021-02-01") & (df["date"] <= "2021-04-30")]
    return df.sort_values(["symbol", "date"]).reset_index(drop=True)


def _csv(tmp_path: Path, df: pd.DataFrame, name: str = "bars.csv") -> Path:
    out = df.copy()
    if pd.api.types.is_datetime64_any_dtype(out["date"]):
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    path = tmp_path / name
    out.to_csv(path, index=False)
    return path


def _kinds(path: Path, **kw) -> set[IssueKind]:
    return {i.kind for i in check_bars(read_bars(path, validate=False, **kw))}


def _issue_example(base: pd.DataFrame) -> pd.DataFrame:
    """The issue's file: 2021-03-02 twice for 600519.SH (closes 10.05 and 11.00) and one empty close."""
    df = base.copy()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    k = df.index[(df["symbol"] == "600519.SH") & (df["date"] == "2021-03-02")][0]
    dup = df.loc[[k]].copy()
    df.loc[k, ["open", "high", "low", "close"]] = [10.0, 10.1, 9.9, 10.05]
    dup[["open", "high", "low", "close"]] = [10.9, 11.0, 10.8, 11.00]
    df = pd.concat([df.loc[:k], dup, df.loc[k + 1:]], ignore_index=True)
    df.loc[df.index[(df["symbol"] == "000001.SZ") & (df["date"] == "2021-03-10")][0], "close"] = np.nan
    return df


def test_the_issue_file_is_refused_by_backtest_and_dropped_on_request(tmp_path, base):
    path = _csv(tmp_path, _issue_example(base))
    check = nofx("data", "check", str(path))
    assert check.returncode == 1 and "[duplicate]" in check.stdout and "[missing_value]" in check.stdout

    run = nofx("backtest", "-s", "buy_and_hold", "--data", str(path), "--no-progress")
    assert run.returncode == 2, run.stdout + run.stderr
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "2 bad row(s)" in lines[0] and "[duplicate]" in lines[0] and "[missing_value]" in lines[0]
    assert "--drop-bad-rows" in lines[0]

    dropped = nofx("backtest", "-s", "buy_and_hold", "--data", str(path), "--no-progress", "--drop-bad-rows")
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped 2 bad row(s)" in dropped.stderr
    assert "[duplicate]" in dropped.stderr and "[missing_value]" in dropped.stderr


@pytest.mark.parametrize("command", [
    ["paper", "-s", "buy_and_hold", "--speed", "0", "--no-progress"],
    ["factors", "report"],
    ["model", "train", "--model", "linear", "--out", "RUN"],
    ["sweep", "-s", "dual_ma", "--grid", "fast=5"],
])
def test_every_command_that_reads_bars_refuses_bad_rows(tmp_path, base, command):
    path = _csv(tmp_path, _issue_example(base))
    args = [a.replace("RUN", str(tmp_path / "run")) for a in command]
    if command[0] == "paper":
        args += ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    r = nofx(*args, "--data", str(path))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "bad row(s)" in r.stderr


def test_day_first_dates_are_refused_unless_the_format_is_given(tmp_path, base):
    iso = _csv(tmp_path, base, "iso.csv")
    dmy = base.copy()
    dmy["date"] = dmy["date"].dt.strftime("%d/%m/%Y")
    path = _csv(tmp_path, dmy, "dmy.csv")
    with pytest.raises(DataError, match="day/month or month/day"):
        read_bars(path)
    read = read_bars(path, date_format="%d/%m/%Y")
    assert (read["datetime"].to_numpy() == read_bars(iso)["datetime"].to_numpy()).all()
    cfg = BacktestConfig(rules="cn")
    a = run_backtest(read, DualMovingAverage(DualMAParams(fast=3, slow=8, size=100)), cfg)
    b = run_backtest(read_bars(iso), DualMovingAverage(DualMAParams(fast=3, slow=8, size=100)), cfg)
    assert a.equity.equals(b.equity)
    r = nofx("backtest", "-s", "dual_ma", "--data", str(path), "--no-progress")
    assert r.returncode == 2 and "--date-format" in r.stderr
    ok = nofx("backtest", "-s", "dual_ma", "--data", str(path), "--no-progress", "--date-format", "%d/%m/%Y")
    assert ok.returncode == 0, ok.stderr


def test_mixed_time_zones_are_refused(tmp_path, base):
    df = base.copy()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.loc[0, "date"] = df.loc[0, "date"] + "T00:00:00+08:00"
    with pytest.raises(DataError, match="UTC offset"):
        read_bars(_csv(tmp_path, df))


def test_daily_bars_at_different_times_of_day_are_bad_rows(tmp_path, base):
    df = base.copy()
    late = df["symbol"] == "000001.SZ"
    df["date"] = np.where(late, (df["date"] + pd.Timedelta(hours=15)).dt.strftime("%Y-%m-%d %H:%M"),
                          df["date"].dt.strftime("%Y-%m-%d"))
    path = _csv(tmp_path, df)
    issues = check_bars(read_bars(path, validate=False))
    assert {i.kind for i in issues} == {IssueKind.MISALIGNED_TIME}
    assert {i.symbol for i in issues} == {"000001.SZ"} or {i.symbol for i in issues} == {"600519.SH"}
    with pytest.raises(DataError, match="misaligned_time"):
        read_bars(path)


@pytest.mark.parametrize("column, value, kind", [
    ("open", np.inf, IssueKind.NON_FINITE),
    ("low", -np.inf, IssueKind.NON_FINITE),
    ("open", 1e300, IssueKind.OUT_OF_RANGE),
    ("close", 1e30, IssueKind.OUT_OF_RANGE),
    ("preclose", 1e300, IssueKind.OUT_OF_RANGE),
    ("preclose", -np.inf, IssueKind.NON_FINITE),
    ("volume", np.inf, IssueKind.NON_FINITE),
    ("amount", -5.0, IssueKind.OUT_OF_RANGE),
    ("open", np.nan, IssueKind.MISSING_VALUE),
    ("trade_status", 2, IssueKind.BAD_FLAG),
    ("is_st", "yes", IssueKind.BAD_FLAG),
    ("preclose", "abc", IssueKind.BAD_VALUE),
])
def test_bad_values_are_reported_and_refused(tmp_path, base, column, value, kind):
    df = base.copy().astype({column: object})
    df.loc[5, column] = value
    path = _csv(tmp_path, df)
    assert kind in _kinds(path)
    with pytest.raises(DataError, match=kind.value):
        read_bars(path)
    kept = read_bars(path, drop_bad_rows=True)
    assert 5 not in kept.index and len(kept) == len(df) - 1 and len(kept.attrs[DROPPED_ATTR]) >= 1


def test_open_above_high_and_all_inf_rows(tmp_path, base):
    df = base.copy()
    df.loc[3, "open"] = df.loc[3, "high"] * 1.05
    df.loc[7, ["open", "high", "low", "close"]] = np.inf
    issues = check_bars(read_bars(_csv(tmp_path, df), validate=False))
    assert {(i.row, i.kind) for i in issues} >= {(3, IssueKind.OHLC_INCONSISTENT), (7, IssueKind.NON_FINITE)}


def test_float_noise_in_adjusted_prices_is_not_an_inconsistency(tmp_path, base):
    df = base.copy()
    df.loc[3, "open"] = df.loc[3, "high"] * (1 + 1e-15)
    assert _kinds(_csv(tmp_path, df)) == set()


@pytest.mark.parametrize("text", ["9999-12-31", "1900-01-01", "", "2021-02-30"])
def test_impossible_dates_in_csv_are_bad_rows(tmp_path, base, text):
    df = base.copy()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.loc[4, "date"] = text
    path = _csv(tmp_path, df)
    issues = [i for i in check_bars(read_bars(path, validate=False)) if i.row == 4]
    assert [i.kind for i in issues] == [IssueKind.MISSING_VALUE]
    with pytest.raises(DataError, match="bad row"):
        read_bars(path, start="2021-01-01", end="2021-12-31")  # a range filter does not hide the row


@pytest.mark.parametrize("arrow_type", [pa.date32(), pa.timestamp("us"), pa.timestamp("s", tz="UTC")])
def test_out_of_bounds_dates_in_parquet_are_bad_rows(tmp_path, base, arrow_type):
    days = [d.date() for d in base["date"]]
    days[4] = date(9999, 12, 31)
    values = days if pa.types.is_date(arrow_type) else [pd.Timestamp(d).to_pydatetime() for d in days]
    table = pa.Table.from_pandas(base.drop(columns="date"), preserve_index=False)
    table = table.append_column("date", pa.array(values, arrow_type))
    path = tmp_path / "oob.parquet"
    pq.write_table(table, path)
    issues = [i for i in check_bars(read_bars(path, validate=False)) if i.row == 4]
    assert [i.kind for i in issues] == [IssueKind.MISSING_VALUE] and "9999-12-31" in issues[0].message
    r = nofx("backtest", "-s", "buy_and_hold", "--data", str(path), "--no-progress")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "row 4" in r.stderr


def test_a_close_column_of_dates_is_refused(tmp_path, base):
    df = base.copy()
    df["close"] = df["date"]
    path = tmp_path / "dates.parquet"
    df.to_parquet(path)
    with pytest.raises(DataError, match="'close' must be numeric, found dates"):
        read_bars(path, validate=False)


def test_nan_open_on_a_fill_bar_is_exit_2_for_backtest_and_paper_resume(tmp_path, base):
    """Issue 9: a NaN open where an order fills raised decimal.InvalidOperation, in paper on every
    restart too; now the file is refused before anything runs."""
    df = base.copy()
    first = df.index[df["symbol"] == "600519.SH"][1]  # buy_and_hold fills at the second bar's open
    df.loc[first, "open"] = np.nan
    path = _csv(tmp_path, df)
    db = f"sqlite:///{tmp_path / 'l.db'}"
    for args in (["backtest", "-s", "buy_and_hold"], ["paper", "-s", "buy_and_hold", "--speed", "0", "--db", db]):
        r = nofx(*args, "--data", str(path), "--no-progress")
        assert r.returncode == 2 and "Traceback" not in r.stderr and "missing_value" in r.stderr, r.stderr


def test_mixed_utc_offsets_on_daily_bars_are_misaligned(tmp_path, base):
    """Every time has an offset, but one symbol's daily bars are UTC midnights (08:00 in Shanghai)."""
    df = base.copy()
    utc = df["symbol"] == "000001.SZ"
    df["date"] = df["date"].dt.strftime("%Y-%m-%d") + np.where(utc, "T00:00:00+00:00", "T00:00:00+08:00")
    with pytest.raises(DataError, match="misaligned_time"):
        read_bars(_csv(tmp_path, df))


def test_intraday_bars_stamped_in_utc_are_misaligned(tmp_path, cn_15min_path):
    bars = read_bars(cn_15min_path, symbols=["600036.SH", "000001.SZ"], start="2025-03-03", end="2025-03-04")
    utc = bars["symbol"] == "000001.SZ"
    bars.loc[utc, "datetime"] = bars.loc[utc, "datetime"] - pd.Timedelta(hours=8)
    path = tmp_path / "15min.csv"
    bars.drop(columns=[c for c in bars.columns if c not in ("symbol", "datetime", "open", "high", "low",
                                                             "close", "volume")]).to_csv(path, index=False)
    issues = check_bars(read_bars(path, validate=False))
    assert {i.kind for i in issues} == {IssueKind.MISALIGNED_TIME}
    assert {i.symbol for i in issues} == {"000001.SZ"} and len(issues) == int(utc.sum())
