"""compute_metrics against empyrical-reloaded on real A-share closes, and hand-computed tiny cases."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import empyrical
import numpy as np
import pandas as pd
import pytest

from nofx.backtest.metrics import BASE_METRIC_KEYS, BENCHMARK_METRIC_KEYS, compute_metrics
from nofx.domain.enums import Side
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.fills import Fill

REL = 1e-9


@pytest.fixture(scope="module")
def real_closes(cn_daily_path) -> pd.DataFrame:
    """Closes of Kweichow Moutai (the 'strategy') and CSI 300 (the benchmark), 2017..2021."""
    df = pd.read_parquet(
        cn_daily_path, columns=["symbol", "date", "close"],
        filters=[("symbol", "in", ["600519.SH", "000300.SH"])],
    )
    wide = df.pivot(index="date", columns="symbol", values="close").sort_index()
    assert wide.loc["2021-02-10", "600519.SH"] == pytest.approx(2601.00)  # fact from the data README
    assert wide.loc["2021-02-10", "000300.SH"] == pytest.approx(5807.72)
    return wide


@pytest.fixture(scope="module")
def equity_and_bench(real_closes) -> tuple[pd.Series, pd.Series]:
    stock = real_closes["600519.SH"]
    equity = stock / stock.iloc[0] * 1_000_000.0  # a buy-and-hold account of 1m CNY
    return equity, real_closes["000300.SH"]


def _returns(s: pd.Series) -> pd.Series:
    return s.pct_change().iloc[1:]


@pytest.mark.parametrize("risk_free", [0.0, 0.0001])
def test_matches_empyrical_on_real_returns(equity_and_bench, risk_free):
    equity, bench = equity_and_bench
    m = compute_metrics(equity, bench, risk_free=risk_free)
    r, b = _returns(equity), _returns(bench)
    ann = 252

    assert m["annual_return"] == pytest.approx(empyrical.annual_return(r, annualization=ann), rel=REL)
    assert m["annual_volatility"] == pytest.approx(empyrical.annual_volatility(r, annualization=ann), rel=REL)
    assert m["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(r, risk_free=risk_free, annualization=ann), rel=REL)
    assert m["sortino"] == pytest.approx(
        empyrical.sortino_ratio(r, required_return=risk_free, annualization=ann), rel=REL)
    assert m["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), rel=REL)
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(r, annualization=ann), rel=REL)
    alpha, beta = empyrical.alpha_beta(r, b, risk_free=risk_free, annualization=ann)
    assert m["alpha"] == pytest.approx(alpha, rel=REL)
    assert m["beta"] == pytest.approx(beta, rel=REL)

    # Information ratio and tracking error by hand (empyrical has only the non-annualised excess_sharpe).
    active = (r - b).to_numpy()
    te = active.std(ddof=1) * np.sqrt(ann)
    assert m["tracking_error"] == pytest.approx(te, rel=REL)
    assert m["information_ratio"] == pytest.approx(active.mean() * ann / te, rel=REL)
    assert m["information_ratio"] == pytest.approx(empyrical.excess_sharpe(r, b) * np.sqrt(ann), rel=REL)

    assert m["total_return"] == pytest.approx(equity.iloc[-1] / equity.iloc[0] - 1, rel=REL)
    assert m["benchmark_return"] == pytest.approx(bench.iloc[-1] / bench.iloc[0] - 1, rel=REL)
    assert m["excess_return"] == pytest.approx(
        empyrical.annual_return(r, annualization=ann) - empyrical.annual_return(b, annualization=ann), rel=REL)
    assert set(m) == set(BASE_METRIC_KEYS) | set(BENCHMARK_METRIC_KEYS)
    json.dumps(m)  # plain Python values only


def test_real_drawdown_dates_bracket_the_worst_fall(equity_and_bench):
    equity, _ = equity_and_bench
    m = compute_metrics(equity)
    start, trough = pd.Timestamp(m["max_drawdown_start"]), pd.Timestamp(m["max_drawdown_trough"])
    assert start < trough
    assert equity[start] == equity[:trough].max()  # the peak before the trough
    assert equity[trough] / equity[start] - 1 == pytest.approx(m["max_drawdown"], rel=REL)
    if m["max_drawdown_end"] is not None:
        end = pd.Timestamp(m["max_drawdown_end"])
        assert equity[end] >= equity[start] and equity[trough:end].iloc[:-1].max() < equity[start]


def test_periods_per_year_scales_annualisation(equity_and_bench):
    equity, _ = equity_and_bench
    r = _returns(equity)
    m = compute_metrics(equity, periods_per_year=244)  # the A-share trading-day count of a year
    assert m["annual_return"] == pytest.approx(empyrical.annual_return(r, annualization=244), rel=REL)
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r, annualization=244), rel=REL)


def test_nan_benchmark_days_are_forward_filled(equity_and_bench):
    equity, bench = equity_and_bench
    holed = bench.copy()
    holed.iloc[[10, 11, 300, 700]] = np.nan
    m = compute_metrics(equity, holed)
    filled = bench.copy()
    filled.iloc[[10, 11, 300, 700]] = filled.iloc[[9, 9, 299, 699]].to_numpy()
    alpha, beta = empyrical.alpha_beta(_returns(equity), _returns(filled), annualization=252)
    assert m["alpha"] == pytest.approx(alpha, rel=REL)
    assert m["beta"] == pytest.approx(beta, rel=REL)
    # the strategy's own metrics ignore the benchmark's holes
    assert m["sharpe"] == compute_metrics(equity)["sharpe"]


def test_leading_nan_benchmark_days_are_left_out_of_comparisons(equity_and_bench):
    equity, bench = equity_and_bench
    late = bench.copy()
    late.iloc[:5] = np.nan
    m = compute_metrics(equity, late)
    r, b = _returns(equity.iloc[5:]), _returns(bench.iloc[5:])
    alpha, beta = empyrical.alpha_beta(r, b, annualization=252)
    assert m["beta"] == pytest.approx(beta, rel=REL)
    assert m["alpha"] == pytest.approx(alpha, rel=REL)
    assert m["benchmark_return"] == pytest.approx(bench.iloc[-1] / bench.iloc[5] - 1, rel=REL)
    # ...but the strategy's own return still covers the whole curve
    assert m["total_return"] == pytest.approx(equity.iloc[-1] / equity.iloc[0] - 1, rel=REL)


def _series(values, start="2021-01-04") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype="float64")


def test_known_drawdown_and_its_dates():
    # peak 110 held two days (the decline starts from the second), trough 88 (-20%), back above 110 later
    eq = _series([100, 110, 110, 99, 88, 100, 120])
    m = compute_metrics(eq)
    assert m["max_drawdown"] == pytest.approx(-0.2)
    assert m["max_drawdown_start"] == "2021-01-06"
    assert m["max_drawdown_trough"] == "2021-01-08"
    assert m["max_drawdown_end"] == "2021-01-12"
    assert m["total_return"] == pytest.approx(0.2)
    assert m["annual_return"] == pytest.approx(1.2 ** (252 / 6) - 1)
    assert m["calmar"] == pytest.approx(m["annual_return"] / 0.2)


def test_unrecovered_drawdown_has_no_end_and_intraday_dates_keep_their_time():
    idx = pd.date_range("2025-01-02 09:45", periods=4, freq="15min")
    m = compute_metrics(pd.Series([100.0, 90.0, 80.0, 95.0], index=idx))
    assert m["max_drawdown"] == pytest.approx(-0.2)
    assert m["max_drawdown_start"] == "2025-01-02T09:45:00"
    assert m["max_drawdown_trough"] == "2025-01-02T10:15:00"
    assert m["max_drawdown_end"] is None


def test_constant_equity_has_no_undefined_ratios():
    m = compute_metrics(_series([1e6] * 30), benchmark=_series([3000.0] * 30))
    assert m["total_return"] == 0.0 and m["annual_return"] == 0.0
    assert m["annual_volatility"] == 0.0
    assert m["max_drawdown"] == 0.0
    for key in ("sharpe", "sortino", "calmar", "max_drawdown_start", "max_drawdown_end",
                "beta", "alpha", "information_ratio", "win_rate"):
        assert m[key] is None, key
    assert m["tracking_error"] == 0.0
    assert m["benchmark_return"] == 0.0 and m["excess_return"] == 0.0
    json.dumps(m)


def test_single_point_and_single_return():
    one = compute_metrics(_series([1e6]), benchmark=_series([3000.0]))
    assert one["total_return"] == 0.0 and one["final_equity"] == 1e6
    for key in ("annual_return", "annual_volatility", "sharpe", "sortino", "turnover", "beta",
                "alpha", "benchmark_return", "information_ratio"):
        assert one[key] is None, key
    two = compute_metrics(_series([100.0, 101.0]))
    assert two["annual_return"] == pytest.approx(1.01**252 - 1)
    assert two["annual_volatility"] is None and two["sharpe"] is None  # one return has no spread


def test_upward_only_curve_has_no_downside_risk():
    m = compute_metrics(_series([100.0, 101.0, 103.0, 104.0]))
    assert m["sortino"] is None and m["calmar"] is None and m["max_drawdown"] == 0.0
    assert m["sharpe"] is not None and m["sharpe"] > 0


def _fill(i: int, symbol: str, side: Side, qty: int, price: str, fee: str, day: int) -> Fill:
    return Fill(f"f{i}", f"o{i}", symbol, side, qty, Decimal(price), Decimal(fee), datetime(2021, 1, day))


def test_win_rate_uses_average_cost_including_fees():
    trades = [
        _fill(1, "600519.SH", Side.BUY, 100, "10.00", "5.00", 4),   # basis 1005
        _fill(2, "600519.SH", Side.BUY, 100, "12.00", "5.00", 5),   # basis 2210, avg 11.05
        _fill(3, "600519.SH", Side.SELL, 100, "11.10", "5.00", 6),  # 1110 - 5 - 1105 = 0: break-even, no win
        _fill(4, "600519.SH", Side.SELL, 100, "12.00", "5.00", 7),  # 1200 - 5 - 1105 = +90: a win
        _fill(5, "000001.SZ", Side.SELL, 100, "15.00", "5.00", 7),  # never bought here: not counted
        _fill(6, "000001.SZ", Side.BUY, 200, "15.00", "5.00", 8),
        _fill(7, "000001.SZ", Side.SELL, 100, "14.00", "2.50", 11),  # loss
    ]
    eq = _series([1e6] * 6 + [1.01e6])
    m = compute_metrics(eq, trades=trades)
    assert m["win_rate"] == pytest.approx(1 / 3)
    assert m["n_trades"] == 7
    assert m["fees_paid"] == 32.5


def test_win_rate_sorts_fills_by_time():
    buy = _fill(1, "X", Side.BUY, 100, "10", "0", 4)
    sell = _fill(2, "X", Side.SELL, 100, "11", "0", 5)
    assert compute_metrics(_series([1.0, 1.0]), trades=[sell, buy])["win_rate"] == 1.0


def test_turnover_is_annualised_notional_over_mean_equity():
    eq = _series([1e6] * 253)  # 252 returns: exactly one year at 252 periods a year
    trades = [_fill(1, "X", Side.BUY, 10_000, "30.00", "7.50", 4),
              _fill(2, "X", Side.SELL, 10_000, "20.00", "5.123", 5)]
    m = compute_metrics(eq, trades=trades)
    assert m["turnover"] == pytest.approx(0.5)
    assert compute_metrics(eq.iloc[:127], trades=trades)["turnover"] == pytest.approx(1.0)
    assert m["fees_paid"] == 12.62  # 12.623 rounded to the cent


@pytest.mark.parametrize("bad", [[100.0, np.nan, 101.0], [100.0, 0.0, 101.0]])
def test_bad_equity_raises_data_error_with_location(bad):
    with pytest.raises(DataError) as err:
        compute_metrics(_series(bad))
    assert err.value.context["at"] == "2021-01-05"


def test_empty_unsorted_and_bad_periods_are_refused():
    with pytest.raises(DataError):
        compute_metrics(pd.Series([], dtype="float64", index=pd.DatetimeIndex([])))
    with pytest.raises(DataError):
        compute_metrics(_series([1.0, 2.0]).iloc[::-1])
    with pytest.raises(ConfigError):
        compute_metrics(_series([1.0, 2.0]), periods_per_year=0)
