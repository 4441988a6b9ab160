"""Metrics at the run's bar frequency and on its market's calendar (issue 8 item 6).

600036.SH buy-and-hold over March 2025 on real 15-minute bars: each bar is 1/16 of an A-share day and
an XSHG year has 243 sessions, so volatility and Sharpe scale by sqrt(16 * 243), not sqrt(252); the
annual return compounds over the calendar month the run covers. Checked against empyrical given the same
factor and against a hand computation.
"""

from __future__ import annotations

import json
from datetime import date

import empyrical
import numpy as np
import pandas as pd
import pytest

from nofx.backtest.annualisation import annualisation_for, bars_per_day, trading_days_per_year
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.instruments import Market
from nofx.strategies.buy_and_hold import BuyAndHold


@pytest.fixture(scope="module")
def march_15min(cn_15min_path):
    bars = read_bars(cn_15min_path, symbols=["600036.SH"], start="2025-03-01", end="2025-03-31")
    cfg = BacktestConfig(start=date(2025, 3, 1), end=date(2025, 3, 31), rules="cn")
    return run_backtest(bars, BuyAndHold(), cfg, symbols=["600036.SH"])


def test_15min_metrics_use_16_bars_a_day_on_the_xshg_calendar(march_15min):
    res = march_15min
    ann = res.annualisation
    assert (ann.bars_per_day, ann.bar_minutes, ann.trading_days_per_year, ann.calendar) == (16, 15, 243, "XSHG")
    assert ann.periods_per_year == 16 * 243
    eq = res.equity["equity"]
    r = eq.pct_change().iloc[1:]
    m = res.metrics
    # against empyrical given the same factor
    assert m["annual_volatility"] == pytest.approx(empyrical.annual_volatility(r, annualization=3888), rel=1e-9)
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=3888), rel=1e-9)
    # by hand: sample std times sqrt(bars a year); CAGR over the calendar days the curve covers
    assert m["annual_volatility"] == pytest.approx(r.std(ddof=1) * np.sqrt(3888), rel=1e-12)
    days = (eq.index[-1] - eq.index[0]).total_seconds() / 86400
    assert days == pytest.approx(28 + 5.25 / 24)  # 2025-03-03 09:45 .. 2025-03-31 15:00
    assert m["annual_return"] == pytest.approx((eq.iloc[-1] / eq.iloc[0]) ** (365.25 / days) - 1, rel=1e-12)
    # the figures the issue expects ("about 0.210 / 1.44 / 0.32"), not the per-bar-as-a-day ones
    assert 0.19 < m["annual_volatility"] < 0.23
    assert 1.3 < m["sharpe"] < 1.5
    assert 0.30 < m["annual_return"] < 0.37
    notional = sum(float(f.notional) for f in res.trades)
    assert m["turnover"] == pytest.approx(notional / eq.mean() / (days / 365.25), rel=1e-9)


def test_report_json_states_the_factor(march_15min, tmp_path):
    path = tmp_path / "r.json"
    march_15min.write_json(path)
    doc = json.loads(path.read_text())
    assert doc["metrics"]["periods_per_year"] == 3888
    assert doc["annualisation"]["bars_per_day"] == 16
    assert doc["annualisation"]["calendar"] == "XSHG"
    assert "16 bars/day" in doc["annualisation"]["description"]


def test_hk_daily_bars_use_the_xhkg_calendar(hk_daily_path):
    bars = read_bars(hk_daily_path, symbols=["0700.HK"], start="2021-01-01", end="2021-12-31")
    cfg = BacktestConfig(start=date(2021, 1, 1), end=date(2021, 12, 31), rules="hk", corporate_actions=False)
    res = run_backtest(bars, BuyAndHold(), cfg, symbols=["0700.HK"])
    ann = res.annualisation
    assert (ann.bars_per_day, ann.bar_minutes, ann.calendar, ann.trading_days_per_year) == (1, None, "XHKG", 247)
    r = res.equity["equity"].pct_change().iloc[1:]
    assert res.metrics["annual_volatility"] == pytest.approx(empyrical.annual_volatility(r, annualization=247),
                                                             rel=1e-9)
    assert res.metrics["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=247), rel=1e-9)


def test_daily_a_share_runs_use_the_xshg_count_of_their_years(cn_daily_path):
    bars = read_bars(cn_daily_path, symbols=["600036.SH"], start="2019-01-01", end="2021-12-31")
    cfg = BacktestConfig(start=date(2019, 1, 1), end=date(2021, 12, 31), rules="cn")
    res = run_backtest(bars, BuyAndHold(), cfg, symbols=["600036.SH"])
    assert res.annualisation.trading_days_per_year == pytest.approx((244 + 243 + 243) / 3, abs=0.01)
    assert res.metrics["periods_per_year"] == pytest.approx(243.33, abs=0.01)


def test_trading_days_per_year_come_from_the_exchange_calendars():
    assert trading_days_per_year(("XSHG",), (2025,)) == 243
    for year in range(2017, 2026):
        assert 240 <= trading_days_per_year(("XSHG",), (year,)) <= 246
    assert trading_days_per_year(("XHKG",), (2025,)) == 246
    # a mixed run has a slice on every day either market trades
    both = trading_days_per_year(("XHKG", "XSHG"), (2025,))
    assert both > 246


@pytest.mark.parametrize("market, minutes, expected", [
    (Market.CN, 15, 16), (Market.CN, 5, 48), (Market.CN, 30, 8), (Market.CN, 60, 4),
    (Market.HK, 15, 22), (Market.HK, 60, 6),  # HK morning: 10:30, 11:30 and the short bar to 12:00
])
def test_bars_per_day_from_the_sessions(market, minutes, expected):
    assert bars_per_day([market], minutes) == expected


def test_annualisation_of_intraday_timestamps():
    ts = pd.date_range("2025-03-03 09:35", periods=24, freq="5min")
    ann = annualisation_for(ts, ["600036.SH"])
    assert (ann.bar_minutes, ann.bars_per_day) == (5, 48)
    daily = annualisation_for(pd.date_range("2025-03-03", periods=5, freq="B"), ["0700.HK"])
    assert (daily.bar_minutes, daily.bars_per_day, daily.calendar) == (None, 1, "XHKG")
