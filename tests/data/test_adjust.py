"""Adjustment factors from preclose gaps, on real ex-dividend and bonus-share days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.adjust import adjust_bars, adjustment_factors
from nofx.data.bars import read_bars
from nofx.data.bundled import load_bundled
from nofx.domain.errors import DataError

# ex-dates visible in the data as preclose < previous close
EX_DATES = {
    "600519.SH": ["2019-06-28", "2020-06-24", "2021-06-25"],
    "000001.SZ": ["2019-06-26", "2020-05-28", "2021-05-14"],
}


@pytest.fixture(scope="module")
def bars(cn_daily_path) -> pd.DataFrame:
    return read_bars(cn_daily_path, symbols=list(EX_DATES))


def _by_symbol(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["symbol", "datetime"])


@pytest.mark.parametrize("method", ["qfq", "hfq"])
def test_adjusted_returns_equal_reported_pct_chg(bars, method):
    adj = _by_symbol(adjust_bars(bars, method))
    ret = adj.groupby("symbol")["close"].pct_change()
    ok = ret.notna()
    assert ok.sum() > 2000
    np.testing.assert_allclose(ret[ok], adj.loc[ok, "pct_chg"] / 100, atol=1e-4, rtol=0)


def test_raw_series_jumps_on_ex_dates_and_adjusted_does_not(bars):
    raw = _by_symbol(bars)
    adj = _by_symbol(adjust_bars(bars, "qfq"))
    raw_ret = raw.groupby("symbol")["close"].pct_change()
    adj_ret = adj.groupby("symbol")["close"].pct_change()
    for symbol, dates in EX_DATES.items():
        for day in pd.to_datetime(dates):
            row = (raw["symbol"] == symbol) & (raw["datetime"] == day)
            reported = float(raw.loc[row, "pct_chg"].iloc[0]) / 100
            assert abs(float(raw_ret[row].iloc[0]) - reported) > 0.005, (symbol, day)  # the unadjusted gap
            assert float(adj_ret[row].iloc[0]) == pytest.approx(reported, abs=1e-4)


def test_factor_steps_only_on_ex_dates(bars):
    factor = adjustment_factors(bars)
    df = _by_symbol(bars.assign(f=factor))
    steps = df[df.groupby("symbol")["f"].diff().fillna(0) != 0]
    for symbol, dates in EX_DATES.items():
        got = steps.loc[steps["symbol"] == symbol, "datetime"]
        assert set(pd.to_datetime(dates)) <= set(got), symbol
    first = df.groupby("symbol")["f"].first()
    assert (first == 1.0).all()


def test_qfq_keeps_latest_prices_and_hfq_keeps_first(bars):
    raw = _by_symbol(bars).groupby("symbol")["close"]
    qfq = _by_symbol(adjust_bars(bars, "qfq")).groupby("symbol")["close"]
    hfq = _by_symbol(adjust_bars(bars, "hfq")).groupby("symbol")["close"]
    pd.testing.assert_series_equal(qfq.last(), raw.last())
    pd.testing.assert_series_equal(hfq.first(), raw.first())
    assert (qfq.first() < raw.first()).all()  # dividends paid: earlier prices scaled down


def test_bonus_shares_are_a_large_step():
    # 300059.SZ (East Money) issued bonus shares in 2019-2021: preclose ~ previous close / 1.2 or 1.3
    df = load_bundled(symbols=["300059.SZ"])
    f = adjustment_factors(df)
    assert f.iloc[-1] > 1.6
    adj = adjust_bars(df, "hfq").sort_values("datetime")
    np.testing.assert_allclose(adj["close"].pct_change().iloc[1:], adj["pct_chg"].iloc[1:] / 100, atol=1e-4)


def test_row_order_does_not_matter(bars):
    shuffled = bars.sample(frac=1.0, random_state=7)
    a = adjust_bars(bars, "qfq")
    b = adjust_bars(shuffled, "qfq").loc[a.index]
    pd.testing.assert_frame_equal(a, b)


def test_unknown_method_and_missing_preclose():
    with pytest.raises(DataError, match="unknown adjustment method"):
        adjust_bars(load_bundled(symbols=["600519.SH"]), "split")
    with pytest.raises(DataError, match="preclose"):
        adjustment_factors(load_bundled(symbols=["600519.SH"]).drop(columns="preclose"))
