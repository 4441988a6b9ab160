"""Hypothesis fuzz over bars files (issue 8 item 7, issue 9 item 1), bounded for the default suite.

Each example takes a clean copy of real bars (two A-shares, Feb-Mar 2021, from the bundled slice), applies
a few generated mutations, writes a CSV and runs what a user would: ``nofx data check`` (read_bars with
validate=False + check_bars) and ``nofx backtest`` (read_bars + run_backtest, the functions the commands
call). Whatever the file:

* nothing raises except a :class:`NofxError` (the CLI prints it as one line, exit 2): never a traceback;
* the check and the backtest agree: a file the check passes runs, a file it flags is refused;
* never a silent change: a file with a bad value is refused, and a file whose mutations are harmless
  (rows reordered) backtests to exactly the clean file's equity and trades.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.data.checks import check_bars
from nofx.domain.errors import NofxError
from nofx.strategies.dual_ma import DualMAParams, DualMovingAverage

SYMS = ["600519.SH", "000001.SZ"]
CFG = BacktestConfig(rules="cn")

# values that are wrong in that column whatever the row (each violates a documented check or limit)
BAD_VALUES: dict[str, list[str]] = {
    "open": ["", "nan", "inf", "-inf", "1e300", "1e30", "-1", "0", "abc", "2021-03-02"],
    "high": ["", "inf", "-inf", "1e300", "-1", "0", "abc", "0.001"],
    "low": ["", "nan", "-inf", "1e30", "-1", "0", "abc", "99999"],
    "close": ["", "inf", "1e300", "1e30", "-1", "0", "abc", "2020-01-01"],
    "volume": ["", "nan", "inf", "1e300", "1e30", "-1", "abc"],
    "preclose": ["inf", "-inf", "1e300", "1e30", "-1", "abc"],
    "amount": ["inf", "1e300", "-1", "abc"],
    "trade_status": ["2", "-1", "0.5", "abc", "inf"],
    "is_st": ["2", "yes", "-1", "inf"],
    "date": ["", "9999-12-31", "1900-01-01", "2021-13-45", "abc", "02/03/2021", "2021-03-02T00:00:00+00:00",
             "2021-03-02 15:00"],
    "symbol": ["", "ABC", "600519", "600519.SS"],
}


@cache
def _clean() -> pd.DataFrame:
    df = pd.read_parquet(bundled_bars_path())
    df = df[df["symbol"].isin(SYMS) & (df["date"] >= "2021-02-01") & (df["date"] <= "2021-03-31")]
    df = df.sort_values(["symbol", "date"]).reset_index(drop=True)
    assert (df["volume"] > 0).all() and (df["trade_status"] == 1).all()  # every row is a traded row
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    return df.astype(str)


def _run(path: Path):
    bars = read_bars(path)
    return run_backtest(bars, DualMovingAverage(DualMAParams(fast=3, slow=8, size=100)), CFG)


@cache
def _clean_result():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clean.csv"
        _clean().to_csv(path, index=False)
        return _run(path)


bad_cell = st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(BAD_VALUES)), st.integers(0, 100))
structural = st.sampled_from(["duplicate_row", "all_inf_row", "misaligned_symbol"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(bad_cell, max_size=3), rows=st.lists(structural, max_size=1),
       shuffle=st.booleans(), seed=st.integers(0, 2**16))
def test_fuzzed_bars_files_never_crash_and_never_change_a_backtest_silently(cells, rows, shuffle, seed):
    df = _clean().copy()
    n = len(df)
    bad = False
    for row, column, pick in cells:
        values = BAD_VALUES[column]
        df.loc[row % n, column] = values[pick % len(values)]
        bad = True
    for kind in rows:
        bad = True
        if kind == "duplicate_row":
            df = pd.concat([df, df.iloc[[seed % n]]], ignore_index=True)
        elif kind == "all_inf_row":
            extra = df.iloc[[seed % n]].copy()
            extra[["open", "high", "low", "close"]] = "inf"
            extra["date"] = "2021-04-01"
            df = pd.concat([df, extra], ignore_index=True)
        else:  # one symbol's daily bars stamped at the close, the other's at midnight
            late = df["symbol"] == SYMS[seed % 2]
            df.loc[late, "date"] = df.loc[late, "date"] + " 15:00"
    if shuffle:
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.csv"
        df.to_csv(path, index=False)
        try:
            flagged = bool(check_bars(read_bars(path, validate=False)))
        except NofxError:
            flagged = True  # the check refuses the file as a whole (one line, exit 2)
        try:
            result = _run(path)
        except NofxError:
            result = None  # refused: one line, exit 2

    assert flagged == (result is None), "data check and the backtest disagree about this file"
    if bad:
        assert result is None, f"a bad file was backtested: {cells} {rows}"
    else:
        clean = _clean_result()
        assert result.equity.equals(clean.equity)
        assert [(f.symbol, f.side, f.quantity, f.price) for f in result.trades] == \
            [(f.symbol, f.side, f.quantity, f.price) for f in clean.trades]
        assert np.isfinite(result.equity["equity"]).all()
